"""Distillation fine-tuning: the PyTorch executor reproduces ONNX Runtime, and training recovers fidelity."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest

from modelps.compress import analyze, keep_count, prune, select_channels
from modelps.compress.calib import load_calibration
from modelps.compress.pruning import activation_scores
from tests.modelps.compress import nets
from tests.modelps.compress.test_compress_edits import centered_cos, outputs

torch = pytest.importorskip("torch", reason="fine-tuning needs PyTorch (pip install torch==2.13.0)")

from modelps.compress.distill import UnsupportedOp, _Executor, _Teacher, distill, unsupported_ops  # noqa: E402

NETS = {
    "resnet18-se": lambda: nets.resnet18(width=8, shape=(2, 3, 32, 32), se=True),
    "resnet50": lambda: nets.resnet50(width=8, shape=(2, 3, 32, 32), blocks=(1, 1, 1, 1)),
    "mobilefacenet": lambda: nets.mobilefacenet(shape=(2, 3, 32, 32)),
    "inception": lambda: nets.inception(shape=(2, 3, 16, 16)),
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_executor_matches_onnx_runtime(name: str) -> None:
    model = NETS[name]()
    assert unsupported_ops(model) == []
    feeds = load_calibration(model, "random", count=1, seed=3)
    expected = outputs(model, feeds)
    x = {k: torch.from_numpy(v) for k, v in feeds[0].items()}
    got = _Executor(model)(x)[model.graph.outputs[0].name].detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))


def _pruned(model: ir.Model, calib: list[dict[str, np.ndarray]], ratio: float) -> ir.Model:
    analysis = analyze(model)
    groups = [g for g in analysis.prunable if not g.residual]
    scores = activation_scores(model, analysis, groups, calib)
    keep = {g.name: select_channels(scores[g.name], keep_count(g.size, ratio)) for g in groups}
    return prune(model, keep, analysis)


def test_distillation_recovers_fidelity_on_held_out_inputs() -> None:
    teacher = nets.resnet18(width=8, shape=("N", 3, 32, 32))  # a free batch: one run per step
    calib = load_calibration(teacher, "samples", count=16, seed=1)
    held = load_calibration(teacher, "samples", count=12, seed=99)
    student = _pruned(teacher, calib, 0.5)
    reference = outputs(teacher, held)
    before = centered_cos(reference, outputs(student, held))
    tuned = distill(student, teacher, calib, steps=60, batch=8, lr=1e-3, seed=0)
    after = centered_cos(reference, outputs(tuned, held))
    assert after > before + 0.02, (before, after)
    shapes = {v.name: v.const_value.shape for v in student.graph.initializers.values()}
    assert {v.name: v.const_value.shape for v in tuned.graph.initializers.values()} == shapes  # weights only
    assert [n.op_type for n in tuned.graph] == [n.op_type for n in student.graph]
    # the student given is left as it was
    assert centered_cos(reference, outputs(student, held)) == pytest.approx(before, abs=1e-6)


def test_distillation_is_reproducible_with_a_seed() -> None:
    teacher = nets.resnet18(width=8, shape=(1, 3, 32, 32))
    calib = load_calibration(teacher, "samples", count=8, seed=1)
    student = _pruned(teacher, calib, 0.25)
    a = distill(student, teacher, calib, steps=5, batch=4, lr=1e-3, seed=7, threads=1, device="cpu")
    b = distill(student, teacher, calib, steps=5, batch=4, lr=1e-3, seed=7, threads=1, device="cpu")
    for name, value in a.graph.initializers.items():
        np.testing.assert_array_equal(value.const_value.numpy(), b.graph.initializers[name].const_value.numpy())


def _constants_net(scale: str) -> ir.Model:
    return ir.from_onnx_text(f"""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1,2,3] x) => (float[1,6] y) {{
          scale = Constant <{scale}> ()
          shape = Constant <value_ints = [1, -1]> ()
          bias = Constant <value = float[3] {{1, 2, 3}}> ()
          scaled = Mul(x, scale)
          shifted = Add(scaled, bias)
          y = Reshape(shifted, shape) }}""")


def test_constant_nodes_in_every_numeric_form() -> None:
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    got = _Executor(_constants_net("value_float = 0.5"))({"x": torch.from_numpy(x)})["y"].numpy()
    np.testing.assert_allclose(got, (x * 0.5 + [1, 2, 3]).reshape(1, 6), rtol=0, atol=1e-6)
    with pytest.raises(UnsupportedOp, match="Constant '.*': only dense numeric values are supported"):
        _Executor(_constants_net('value_string = "half"'))


def test_fine_tuning_device_errors() -> None:
    model = nets.resnet18(width=8, shape=(1, 3, 32, 32))
    calib = load_calibration(model, "random", count=2, seed=1)
    with pytest.raises(ValueError, match="unknown fine-tuning device 'tpu0': use 'auto', 'cpu' or 'cuda\\[:N\\]'"):
        distill(model, model, calib, steps=1, device="tpu0")
    with pytest.raises(ValueError, match="unsupported fine-tuning device 'meta'"):
        distill(model, model, calib, steps=1, device="meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="fine-tuning device 'cuda' is not available: PyTorch sees no CUDA GPU"):
            distill(model, model, calib, steps=1, device="cuda")


@pytest.mark.gpu
def test_fine_tuning_on_a_cuda_gpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("PyTorch sees no CUDA GPU")
    model = NETS["resnet50"]()
    feeds = load_calibration(model, "random", count=1, seed=3)
    expected = outputs(model, feeds)
    net = _Executor(model, torch.device("cuda"))
    got = net(net.feed(feeds[0]))[model.graph.outputs[0].name].detach().cpu().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * float(np.abs(expected).max()))  # TF32 convs
    teacher = nets.resnet18(width=8, shape=("N", 3, 32, 32))
    calib = load_calibration(teacher, "samples", count=16, seed=1)
    held = load_calibration(teacher, "samples", count=12, seed=99)
    student = _pruned(teacher, calib, 0.5)
    reference = outputs(teacher, held)
    before = centered_cos(reference, outputs(student, held))
    assert _Teacher(teacher, ["y"], torch.device("cuda"), None).net is not None  # the teacher runs on the GPU too
    tuned = distill(student, teacher, calib, steps=60, batch=8, lr=1e-3, seed=0, device="cuda")
    assert centered_cos(reference, outputs(tuned, held)) > before + 0.02


def test_unsupported_op_is_named() -> None:
    model = nets.resnet18(width=8, shape=(1, 3, 32, 32))
    node = next(n for n in model.graph if n.op_type == "Relu")
    node.op_type = "Elu"
    assert unsupported_ops(model) == ["Elu"]
    calib = load_calibration(model, "random", count=2, seed=1)
    with pytest.raises(UnsupportedOp, match=r"fine-tuning cannot run op\(s\) \['Elu'\] in PyTorch"):
        distill(model, model, calib, steps=1)


def test_distillation_needs_matching_outputs_and_inputs() -> None:
    model = nets.resnet18(width=8, shape=(1, 3, 32, 32))
    with pytest.raises(ValueError, match="distillation needs calibration inputs"):
        distill(model, model, [], steps=1)
    other = model.clone()
    other.graph.outputs[0].name = "renamed"
    calib = load_calibration(model, "random", count=2, seed=1)
    with pytest.raises(ValueError, match="differ from the teacher's"):
        distill(model, other, calib, steps=1)


def test_prune_channels_finetune_improves_and_replays(tmp_path) -> None:
    from modelps.io import save
    from modelps.model import Model
    from modelps.recipe import Recipe

    teacher = nets.resnet18(width=8, shape=(1, 3, 32, 32))
    path = tmp_path / "r18.onnx"
    save(teacher, path)
    held = load_calibration(teacher, "samples", count=12, seed=99)
    reference = outputs(teacher, held)
    edit = {"op": "prune_channels", "ratio": 0.5, "reconstruct": "samples", "calib_samples": 16}
    plain = Model.load(path)
    plain.apply(edit)
    tuned = Model.load(path)
    tuned.apply({**edit, "finetune_steps": 20, "finetune_lr": 3e-3})  # batch fixed at 1: one run per sample
    assert centered_cos(reference, outputs(tuned.ir, held)) > centered_cos(reference, outputs(plain.ir, held))
    replay = Model.load(path)
    replay.apply_recipe(Recipe.from_json(tuned.recipe.to_json()))
    np.testing.assert_allclose(outputs(replay.ir, held), outputs(tuned.ir, held), rtol=1e-4, atol=1e-4)


def test_prune_channels_finetune_errors() -> None:
    from modelps.errors import EditError
    from modelps.model import Model

    model = Model(nets.resnet18(width=8, shape=(1, 3, 32, 32)))
    with pytest.raises(EditError, match="finetune_steps needs calibration inputs: set reconstruct"):
        model.apply({"op": "prune_channels", "ratio": 0.5, "finetune_steps": 10})
    with pytest.raises(EditError, match="finetune_steps must be >= 0 and finetune_lr > 0, got -1, 0.0003"):
        model.apply({"op": "prune_channels", "ratio": 0.5, "finetune_steps": -1})
    assert model.history == []
