"""Edits that do not promise equal outputs are measured, and refused when outputs break."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnx_ir as ir
import pytest

from modelps import EditError, Model
from modelps.io import save
from modelps.runtime import run
from tests.models import model_from_text, with_conv_weights

CONV_BN = """
<ir_version: 8, opset_import: ["" : 17]>
convbn (float[N, 3, 8, 8] x, float[4, 3, 3, 3] w, float[4] b, float[4] scale, float[4] bias, float[4] mean,
        float[4] var) => (float[N, 4, 8, 8] y) {
  c = Conv <pads = [1, 1, 1, 1], kernel_shape = [3, 3]> (x, w, b)
  n = BatchNormalization (c, scale, bias, mean, var)
  y = Relu(n)
}
"""


def conv_bn(var_scale: float) -> ir.Model:
    """A conv + unfolded BatchNorm whose variance constant is ``var_scale`` (1e8 overflows float16)."""
    rng = np.random.default_rng(0)
    model = model_from_text(CONV_BN)
    weights = {
        "w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 1e3,
        "b": rng.standard_normal(4).astype(np.float32),
        "scale": np.ones(4, np.float32),
        "bias": np.full(4, 0.1, np.float32),
        "mean": np.zeros(4, np.float32),
        "var": np.full(4, var_scale, np.float32),
    }
    graph = model.graph
    for value in [v for v in graph.inputs if v.name in weights]:
        graph.inputs.remove(value)
        value.const_value = ir.tensor(weights[value.name], name=value.name)
        graph.register_initializer(value)
    return model


def test_fp16_keeps_values_float16_cannot_hold() -> None:
    # regression: a BatchNorm variance of 1e8 became inf in float16 and the output all zeros
    model = Model(conv_bn(1e8))
    model.apply({"op": "to_fp16"})
    report = model.reports[-1]
    assert report.fidelity is not None and report.fidelity["centered_cosine"] > 0.999
    assert report.fidelity["samples"] == 4 and "on 4 validation input(s)" in report.summary()
    bn = next(n for n in model.ir.graph if n.op_type == "BatchNormalization")
    assert all(v.dtype == ir.DataType.FLOAT for v in bn.inputs)
    conv = next(n for n in model.ir.graph if n.op_type == "Conv")
    assert conv.inputs[1].dtype == ir.DataType.FLOAT16  # the rest did become float16


def test_non_finite_outputs_are_refused_naming_the_tensor() -> None:
    model = Model(with_conv_weights())
    before = model.to_bytes()
    bias = [1.0] * 7 + [float("inf")]
    with pytest.raises(
        EditError, match=r"refused: output 'y' became non-finite .*the stored tensor 'b' holds inf or NaN"
    ):
        model.apply({"op": "set_initializer", "name": "b", "values": bias})
    assert model.to_bytes() == before and model.history == []


def test_collapsed_outputs_are_refused() -> None:
    model = Model(with_conv_weights())
    with pytest.raises(
        EditError,
        match=r"output 'y' collapsed: it no longer depends on the input .*tensor 'c' is the first to collapse",
    ):
        model.apply({"op": "set_initializer", "name": "w", "values": np.zeros((8, 3, 3, 3)).tolist()})
    assert model.history == []


def test_quantize_is_measured_and_undo_keeps_measurements() -> None:
    model = Model(with_conv_weights())
    model.apply({"op": "quantize_int8", "calib_samples": 8})
    report = model.reports[-1]
    assert 0.9 < report.fidelity["centered_cosine"] < 1.0
    assert report.fidelity["centered_cosine_se"] > 0 and report.fidelity["max_abs"] > 0
    model.apply({"op": "rename", "kind": "node", "old": model.nodes_named()[0], "new": "first"})
    assert model.reports[-1].fidelity is None  # renames promise equal outputs: nothing to measure
    model.undo()
    model.undo()
    model.redo()
    assert model.reports[-1].fidelity == report.fidelity


def test_user_validation_inputs_are_used() -> None:
    feeds = [{"x": np.full((2, 3, 8, 8), i, np.float32)} for i in range(6)]
    model = Model(with_conv_weights(), validation_inputs=feeds)
    model.apply({"op": "to_fp16"})
    assert model.reports[-1].fidelity["samples"] == 6


def test_function_preserving_edits_and_structure_level_are_not_measured() -> None:
    model = Model(with_conv_weights(), validation="structure")
    model.apply({"op": "to_fp16"})
    assert model.reports[-1].fidelity is None and model.reports[-1].note == ""


DUPLICATE_BRANCH_NAMES = """
<ir_version: 8, opset_import: ["" : 13]>
m (float[N, 4] x, bool cond) => (int64[2] y, float[N, 4] z) {
  s = Shape(x)
  y = If(cond) <
    then_branch = then_g () => (int64[2] o) { c = Concat<axis=0>(s) o = Identity(c) },
    else_branch = else_g () => (int64[2] o) { c = Concat<axis=0>(s) o = Identity(c) }
  >
  r = Relu(x)
  z = Identity(r)
}
"""


def test_shape_inference_false_alarm_is_a_warning_not_a_refusal() -> None:
    # regression: same-named tensors in two If branches make shape inference with data propagation
    # fail ("Data for input 0 already exists"); the checker and ONNX Runtime accept the model
    model = Model(model_from_text(DUPLICATE_BRANCH_NAMES))
    model.apply({"op": "convert_opset", "target": 17})
    warnings = model.reports[-1].warnings
    assert warnings and "Data for input" in warnings[0] and "ONNX Runtime loads the model" in warnings[0]
    model.apply({"op": "simplify"})
    feeds = {"x": np.ones((2, 4), np.float32), "cond": np.array(True)}
    assert run(model.ir, feeds)["y"].tolist() == [2, 4]


def test_model_that_cannot_run_is_refused() -> None:
    # shape inference sees the mismatch; ONNX Runtime loads the model but cannot run it
    model = Model(with_conv_weights())
    with pytest.raises(EditError, match="refused: ONNX Runtime cannot run the edited model"):
        model.apply({"op": "set_attribute", "node": model.nodes_named()[0], "name": "kernel_shape", "value": [5, 5]})


def test_cli_edit_prints_measured_fidelity(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    save(conv_bn(1e8), path)
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"modelps_recipe": 1, "edits": [{"op": "to_fp16"}]}))
    out = tmp_path / "out.onnx"
    result = subprocess.run(
        [sys.executable, "-m", "modelps", "edit", str(path), "--recipe", str(recipe), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = result.stderr.splitlines()[0]
    assert line.startswith("edit #1 to_fp16: centered cosine ") and "on 4 validation input(s)" in line
    assert float(line.split()[5]) > 0.999
    onnx.checker.check_model(str(out))


def test_first_activation_to_overflow_is_named() -> None:
    model = Model(with_conv_weights())
    huge = np.full((8, 3, 3, 3), 3e38, np.float32).tolist()  # finite, but the convolution overflows
    with pytest.raises(EditError, match=r"became non-finite .*tensor 'c' is the first to hold inf or NaN"):
        model.apply({"op": "set_initializer", "name": "w", "values": huge})
