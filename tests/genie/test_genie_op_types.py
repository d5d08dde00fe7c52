"""INT8 of one op family: offered when a graph mixes convolutions and matrix products."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from genie.budget import Clock
from genie.explain import explain
from genie.goal import Candidate, Goal
from genie.inputs import build_model, outputs_of, prepare_inputs
from genie.int8 import int8_step
from genie.quantization import op_type_variants
from modelps.edits.quantize_int8 import QuantizeInt8
from modelps.fidelity import per_sample_scores
from modelps.recipe import Recipe
from tests.modelps.compress import nets


def conv_then_matmul(seed: int = 0) -> ir.Model:
    """Three 3x3 convs, the 8x8 feature map read as 64 tokens, three MatMuls on the tokens."""
    net = nets.Net((1, 3, 8, 8), seed=seed)
    x = net.x
    for _ in range(3):
        x = net.relu(net.conv(x, 8))
    x = net.op("Reshape", [x, net.const(np.array([1, 8, 64], np.int64), "seq")], None)
    x = net.op("Transpose", [x], None, perm=[0, 2, 1])
    for i, (cin, cout) in enumerate(((8, 16), (16, 16), (16, 4))):
        x = net.op("MatMul", [x, net.const(net.rng.standard_normal((cin, cout)) / np.sqrt(cin), "m")], None)
        if i < 2:
            x = net.op("Relu", [x], None)
    return net.build(x)


def _reads_dequantized(model: ir.Model, op_type: str) -> list[bool]:
    return [
        any(v is not None and v.producer() is not None and v.producer().op_type == "DequantizeLinear" for v in n.inputs)
        for n in model.graph
        if n.op_type == op_type
    ]


def test_one_family_variants_only_where_families_mix() -> None:
    edit = QuantizeInt8(calib="random", calib_samples=4, method="percentile")
    variants = dict(op_type_variants(conv_then_matmul(), "int8-percentile", edit))
    assert sorted(variants) == ["int8-percentile-conv-only", "int8-percentile-matmul-only"]
    assert variants["int8-percentile-matmul-only"].op_types == ("MatMul", "Gemm")
    assert variants["int8-percentile-conv-only"].method == "percentile"
    assert op_type_variants(nets.resnet18(), "int8", edit) == []  # convs and one Gemm head: nothing to split
    assert op_type_variants(conv_then_matmul(), "int8", variants["int8-percentile-conv-only"]) == []


def test_matmul_only_leaves_every_conv_in_float_and_stays_close() -> None:
    base = conv_then_matmul()
    edit = dict(op_type_variants(base, "int8", QuantizeInt8(calib="random", calib_samples=8)))["int8-matmul-only"]
    model = build_model(base, [edit])
    assert _reads_dequantized(model, "Conv") == [False, False, False]
    assert _reads_dequantized(model, "MatMul") == [True, True, True]
    feeds = [{"x": np.random.default_rng(i).normal(size=(1, 3, 8, 8)).astype(np.float32)} for i in range(4)]
    scores = per_sample_scores(outputs_of(base, feeds), outputs_of(model, feeds))
    assert scores.min() > 0.95
    score = {"centered_cosine": 0.99}
    cand = Candidate("int8-matmul-only", Recipe((edit,)), latency_ms=1.0, speedup=1.1, fidelity=score)
    baseline = Candidate("original", Recipe(()), latency_ms=1.1, speedup=1.0, fidelity={"centered_cosine": 1.0})
    assert "only its MatMul/Gemm layers (every other layer left in float)" in explain(cand, baseline, {}, {})


def test_int8_step_offers_them_when_int8_everywhere_misses_the_floor() -> None:
    base = conv_then_matmul()
    goal = Goal(min_fidelity=1.0, calib="random", calib_samples=8, holdout_samples=8, mixed_precision=False)
    inputs = prepare_inputs(base, goal)
    edit = QuantizeInt8(calib=inputs.source, calib_samples=8)
    reference = outputs_of(base, inputs.held)
    result = int8_step(base, inputs, reference, edit, goal, Clock(600), lambda *a: None, 1)
    names = [name for name, _, _ in result.specs]
    assert any(n.endswith("-matmul-only") for n in names) and any(n.endswith("-conv-only") for n in names)
    note = next(n for n in result.notes if n.startswith("INT8 of one op family"))
    assert "-matmul-only" in note and "±" in note
    assert all(0.0 < score < 1.0 for score in result.scores.values())
    # a floor INT8 everywhere meets: no partial variants
    easy = Goal(min_fidelity=0.0, calib="random", calib_samples=8, holdout_samples=8, mixed_precision=False)
    result = int8_step(base, inputs, reference, edit, easy, Clock(600), lambda *a: None, 1)
    assert not any(name.endswith("-only") for name, _, _ in result.specs)
