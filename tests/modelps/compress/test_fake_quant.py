"""Quantization-aware fine-tuning: the executor runs QDQ models as ONNX Runtime does, and training them helps."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from modelps.compress.calib import load_calibration
from modelps.compress.quantize import quantize_static_qdq
from modelps.io import model_bytes
from tests.modelps.compress import nets
from tests.modelps.compress.test_compress_edits import centered_cos, outputs

torch = pytest.importorskip("torch", reason="fine-tuning needs PyTorch (pip install torch==2.13.0)")

from modelps.compress.distill import UnsupportedOp, _Executor, distill, unsupported_ops  # noqa: E402


@pytest.mark.parametrize("level", ["ORT_DISABLE_ALL", "ORT_ENABLE_ALL"])
def test_executor_runs_a_qdq_model_as_onnx_runtime_does(level: str) -> None:
    model = nets.resnet18(width=8, shape=(1, 3, 32, 32))
    quantized = quantize_static_qdq(model, load_calibration(model, "samples", count=8, seed=1), method="minmax")
    assert unsupported_ops(quantized) == []
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    session = ort.InferenceSession(model_bytes(quantized), options, providers=["CPUExecutionProvider"])
    for feed in load_calibration(model, "samples", count=3, seed=5):
        expected = session.run(None, feed)[0]
        got = _Executor(quantized)({k: torch.from_numpy(v) for k, v in feed.items()})
        step = np.abs(expected).max() / 100  # one output quantization step is about max / 255
        np.testing.assert_allclose(got[quantized.graph.outputs[0].name].detach().numpy(), expected, atol=step)


def test_quantization_aware_fine_tuning_recovers_fidelity_and_keeps_integers() -> None:
    teacher = nets.resnet18(width=8, shape=("N", 3, 32, 32))
    calib = load_calibration(teacher, "samples", count=16, seed=1)
    held = load_calibration(teacher, "samples", count=12, seed=99)
    quantized = quantize_static_qdq(teacher, calib, method="minmax")
    reference = outputs(teacher, held)
    before = centered_cos(reference, outputs(quantized, held))
    tuned = distill(quantized, teacher, calib, steps=60, batch=8, lr=1e-4, seed=0, threads=2, device="cpu")
    after = centered_cos(reference, outputs(tuned, held))
    assert after > before + 0.0005, (before, after)
    assert [n.op_type for n in tuned.graph] == [n.op_type for n in quantized.graph]
    changed = 0
    for name, value in quantized.graph.initializers.items():
        new = tuned.graph.initializers[name].const_value.numpy()
        old = value.const_value.numpy()
        assert new.dtype == old.dtype and new.shape == old.shape
        if old.dtype == np.int8:  # weights stay integers of their type, near their start
            assert np.abs(new.astype(np.int32) - old).max() <= 8
        if old.dtype in (np.int8, np.int32):
            changed += int((new != old).sum())
        if name.endswith("_scale") or name.endswith("_zero_point"):
            np.testing.assert_array_equal(new, old)  # the calibration is kept
    assert changed > 0


def test_blocked_quantization_is_refused_by_name() -> None:
    import onnx_ir as ir

    model = ir.from_onnx_text("""
        <ir_version: 10, opset_import: ["" : 21]>
        g (float[4,8] x) => (float[4,8] y) {
          w = Constant <value = int8[8,8] {0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
                                           0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0}> ()
          s = Constant <value = float[8,2] {1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1}> ()
          wf = DequantizeLinear <axis = 1, block_size = 4> (w, s)
          y = MatMul(x, wf) }""")
    net = _Executor(model)
    with pytest.raises(UnsupportedOp, match="DequantizeLinear .*: block_size attributes are not supported"):
        net({"x": torch.zeros(4, 8)})


def test_quantize_int8_finetune_improves_and_replays(tmp_path) -> None:
    from modelps.errors import EditError
    from modelps.io import save
    from modelps.model import Model
    from modelps.recipe import Recipe

    teacher = nets.resnet18(width=8, shape=("N", 3, 32, 32))
    path = tmp_path / "r18.onnx"
    save(teacher, path)
    held = load_calibration(teacher, "samples", count=12, seed=99)
    reference = outputs(teacher, held)
    edit = {"op": "quantize_int8", "calib": "samples", "calib_samples": 16, "seed": 1}
    plain = Model.load(path)
    plain.apply(edit)
    tuned = Model.load(path)
    tuned.apply({**edit, "finetune_steps": 40})
    assert centered_cos(reference, outputs(tuned.ir, held)) > centered_cos(reference, outputs(plain.ir, held))
    replay = Model.load(path)
    replay.apply_recipe(Recipe.from_json(tuned.recipe.to_json()))
    expected = outputs(tuned.ir, held)  # the same training again (threads may round a weight differently)
    np.testing.assert_allclose(outputs(replay.ir, held), expected, atol=0.02 * float(np.abs(expected).max()))
    with pytest.raises(EditError, match="finetune_steps must be >= 0 and finetune_lr > 0, got 5, 0.0"):
        replay.apply({**edit, "finetune_steps": 5, "finetune_lr": 0.0})


def test_fused_quantize_dequantize_pairs_match_the_ops_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelps.compress import fake_quant

    model = nets.resnet18(width=8, shape=("N", 3, 32, 32))
    calib = load_calibration(model, "samples", count=4, seed=1)
    quantized = quantize_static_qdq(model, calib, method="minmax", per_channel=True)
    feed = {k: torch.from_numpy(np.concatenate([c[k] for c in calib])) for k in calib[0]}
    fused_calls = []
    real = fake_quant._fake_quantize
    monkeypatch.setattr(fake_quant, "_fake_quantize", lambda *a: fused_calls.append(1) or real(*a))

    def run() -> tuple[np.ndarray, list[np.ndarray]]:
        net = _Executor(quantized)
        out = net(feed)[quantized.graph.outputs[0].name]
        out.pow(2).mean().backward()
        return out.detach().numpy(), [p.grad.numpy().copy() for p in net.trainable]

    fused, fused_grads = run()
    assert fused_calls, "activation QuantizeLinear/DequantizeLinear pairs should run fused"
    monkeypatch.setattr(fake_quant, "_fusable", lambda *a: False)
    apart, apart_grads = run()
    np.testing.assert_allclose(fused, apart, atol=1e-5)
    for a, b in zip(fused_grads, apart_grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6 * max(1.0, float(np.abs(b).max())))
