"""A real (small) genie search through the Python API and the CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from genie import Goal, search
from modelps import runtime
from modelps.cli import main
from modelps.compress.calib import load_calibration
from modelps.io import save
from modelps.model import Model
from tests.modelps.compress import nets


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("genie") / "r18.onnx"
    save(nets.resnet18(width=16, shape=(1, 3, 64, 64), seed=2), path)
    return path


@pytest.mark.slow
def test_search_yields_measured_replayable_candidates(model_path) -> None:
    stages: list[str] = []
    before = model_path.read_bytes()
    goal = Goal(target_speedup=1.3, min_fidelity=0.0, budget_s=90, calib_samples=8, holdout_samples=6, threads=1)
    result = search(model_path, goal, progress=lambda stage, done, total: stages.append(stage))
    assert model_path.read_bytes() == before  # the search never edits the model
    assert {"calibrate", "int8 calibration", "profile", "sensitivity", "build", "measure"} <= set(stages)
    names = [c.name for c in result.candidates]
    assert (
        "int8" in names
        and any(n.startswith("fp32-prune") for n in names)
        and any(n.startswith("int8-prune") for n in names)
    )
    for cand in result.candidates:
        assert cand.latency_ms > 0 and np.isfinite(cand.speedup) and cand.size_bytes > 0 and cand.flops > 0
        assert 0 < cand.score <= 1.0 + 1e-9 and cand.explanation
    assert any(c.pareto for c in result.candidates)
    if result.recommended is not None:
        assert result.recommended.speedup >= 1.0
    # a pruned candidate's recipe replays on the original file to the same outputs it was judged on
    pruned = next(c for c in result.candidates if c.name.startswith("fp32-prune"))
    assert pruned.flops < result.baseline.flops
    replay = Model.load(model_path)
    replay.apply_recipe(pruned.recipe)
    again = Model.load(model_path)
    again.apply_recipe(pruned.recipe)
    assert replay.to_bytes() == again.to_bytes()
    feeds = load_calibration(replay.ir, "samples", count=2, seed=1)
    assert runtime.run(replay.ir, feeds[0])["y"].shape == (1, 10)
    assert result.predictor_error["points"] >= 2


@pytest.mark.slow
def test_cli_json_and_outputs(model_path, tmp_path, capsys) -> None:
    best = tmp_path / "best.onnx"
    recipe = tmp_path / "r.json"
    code = main(
        [
            "genie",
            str(model_path),
            "--target-speedup",
            "1.01",
            "--min-fidelity",
            "0",
            "--methods",
            "prune",
            "--budget",
            "40",
            "--threads",
            "1",
            "--json",
            "-o",
            str(best),
            "--recipe-out",
            str(recipe),
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"candidates", "recommended", "baseline", "message"}
    for cand in data["candidates"]:
        assert {"recipe", "latency_ms", "speedup", "fidelity", "size_bytes", "pareto"} <= set(cand)
        assert all(edit["op"] == "prune_channels" for edit in cand["recipe"]["edits"])
    if data["recommended"] is not None:
        assert data["recommended"]["speedup"] >= 1.0
        assert best.is_file() and json.loads(recipe.read_text())["edits"] == data["recommended"]["recipe"]["edits"]


def test_cli_errors(model_path, capsys) -> None:
    assert main(["genie", str(model_path), "--methods", "distill"]) == 1
    assert "unknown method(s) ['distill']" in capsys.readouterr().err
    assert main(["genie", str(model_path), "--calib", "/nonexistent.npz"]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_loss_levels_leave_room_for_what_int8_costs() -> None:
    from genie.planning import loss_levels

    goal = Goal(min_fidelity=0.99)
    assert loss_levels(goal, 0.0) == (0.005, 0.01, 0.03)
    assert loss_levels(goal, 0.006) == pytest.approx((0.002, 0.004, 0.012))
    assert loss_levels(goal, 0.012) == ()  # INT8 alone is below the floor: no pruning on top


@pytest.mark.parametrize("net", ["resnet18", "mobilefacenet"])
def test_int8_variant_for_pruning_is_the_most_faithful_of_the_fastest_kernels(net, monkeypatch) -> None:
    import importlib

    from genie.inputs import outputs_of
    from genie.quantization import combined_variant, quant_variants
    from modelps.edits.quantize_int8 import QuantizeInt8
    from modelps.fidelity import fidelity

    base = (
        nets.resnet18(width=8, shape=(1, 3, 32, 32)) if net == "resnet18" else nets.mobilefacenet(shape=(1, 3, 32, 32))
    )
    edit = QuantizeInt8(calib="samples", calib_samples=8)
    built = {}
    for name, variant in quant_variants(base, edit):
        model = Model(base.clone(), validation="structure")
        model.apply(variant)
        built[name] = (variant, model.ir)
    held = load_calibration(base, "samples", count=6, seed=5)
    reference = outputs_of(base, held)
    timed: list[list[str]] = []
    module = importlib.import_module("genie.quantization")
    real = module.measure
    spy = lambda models, *a, **k: timed.append(sorted(models)) or real(models, *a, **k)  # noqa: E731
    monkeypatch.setattr(module, "measure", spy)
    scores = {n: fidelity(reference, outputs_of(m, held))["centered_cosine"] for n, (_, m) in built.items()}
    chosen = combined_variant(built, scores, held[0], "ort-cpu", 1, floor=1.0)
    if net == "resnet18":  # the calibrations run the same kernels: nothing to time, the most faithful wins
        assert sorted(built) == ["int8", "int8-entropy", "int8-percentile"]
        assert timed == []
        assert chosen == max(built, key=lambda n: scores[n])
    else:  # one timing run, one variant per kernel set
        assert sorted(built) == ["int8", "int8-entropy", "int8-no-depthwise", "int8-percentile"]
        assert timed == [["int8", "int8-no-depthwise"]]
        assert chosen in built
    # a variant meeting the floor is preferred to a faster one that does not
    floor = sorted(scores.values())[-1]
    assert combined_variant(built, scores, held[0], "ort-cpu", 1, floor=floor) == max(scores, key=scores.get)


@pytest.mark.gpu
@pytest.mark.slow
def test_search_on_the_cuda_backend_measures_fp16_on_the_gpu(model_path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("needs onnxruntime-gpu with the CUDA provider and a GPU")
    goal = Goal(
        target_speedup=1.2, min_fidelity=0.9, budget_s=90, calib_samples=8, holdout_samples=6, backend="ort-cuda"
    )
    result = search(model_path, goal)
    names = [c.name for c in result.candidates]
    assert "fp16" in names and result.baseline.latency_ms > 0
    fp16 = next(c for c in result.candidates if c.name == "fp16")
    assert fp16.score > 0.999  # half precision barely moves a small CNN's outputs
    if result.recommended is not None:
        assert result.recommended.speedup >= 1.0


@pytest.mark.slow
def test_search_fine_tunes_the_plan_that_missed_the_floor(model_path) -> None:
    pytest.importorskip("torch", reason="fine-tuning needs PyTorch")
    goal = Goal(
        min_fidelity=0.999, methods=("prune",), budget_s=60, calib_samples=8, holdout_samples=6, threads=1,
        finetune_steps=10,
    )  # fmt: skip
    result = search(model_path, goal)
    tuned = [c for c in result.candidates if c.name.endswith("-ft")]
    assert tuned, [c.name for c in result.candidates]
    for cand in tuned:
        assert cand.recipe.edits[0].finetune_steps == 10
        assert "fine-tunes the pruned weights for 10 steps" in cand.explanation
        plain = next(
            c for c in result.candidates if not c.name.endswith("-ft") and c.details["ratios"] == cand.details["ratios"]
        )
        assert cand.flops == plain.flops  # same architecture, new weights
    replay = Model.load(model_path)
    replay.apply_recipe(tuned[0].recipe)
    assert runtime.run(replay.ir, load_calibration(replay.ir, "samples", count=1, seed=1)[0])["y"].shape == (1, 10)


@pytest.mark.slow
def test_fine_tuning_that_cannot_run_says_why(tmp_path) -> None:
    pytest.importorskip("torch", reason="fine-tuning needs PyTorch")
    model = nets.resnet18(width=16, shape=(1, 3, 64, 64), seed=2)
    next(n for n in model.graph if n.op_type == "Relu").op_type = "Softsign"  # prunable, not in the executor
    path = tmp_path / "softsign.onnx"
    save(model, path)
    goal = Goal(
        min_fidelity=0.999, methods=("prune",), budget_s=60, calib_samples=8, holdout_samples=6, threads=1,
        finetune_steps=10,
    )  # fmt: skip
    result = search(path, goal)
    assert not [c for c in result.candidates if c.name.endswith("-ft")]
    assert any(
        n.startswith("fine-tuning failed on ") and "fine-tuning cannot run op(s) ['Softsign'] in PyTorch" in n
        for n in result.notes
    ), result.notes
    assert not any(n.startswith("fine-tuned ") for n in result.notes)


def test_finetune_steps_must_not_be_negative() -> None:
    from modelps.errors import ModelPSError

    with pytest.raises(ModelPSError, match="fine-tuning steps must be >= 0, got -1"):
        Goal(finetune_steps=-1)


@pytest.mark.slow
def test_search_fine_tunes_int8_near_the_floor_quantization_aware(model_path) -> None:
    pytest.importorskip("torch", reason="fine-tuning needs PyTorch")
    from modelps.edits.quantize_int8 import QuantizeInt8

    goal = Goal(
        min_fidelity=0.9999, methods=("quantize",), budget_s=90, calib_samples=8, holdout_samples=6, threads=1,
        finetune_steps=10, mixed_precision=False,
    )  # fmt: skip
    result = search(model_path, goal)
    aware = [c for c in result.candidates if c.name.endswith("-qat")]
    assert len(aware) == 1, [c.name for c in result.candidates]
    edit = aware[0].recipe.edits[-1]
    assert isinstance(edit, QuantizeInt8) and edit.finetune_steps == 10
    plain = next(c for c in result.candidates if c.recipe.edits == (dataclasses.replace(edit, finetune_steps=0),))
    assert plain.score < goal.min_fidelity  # it was fine-tuned because it missed the floor
    assert aware[0].size_bytes == pytest.approx(plain.size_bytes, rel=0.01)  # the same INT8 graph, new integers
    assert "fine-tunes the INT8 weights and biases for 10 steps" in aware[0].explanation
    assert any(n.startswith("fine-tuned 1 candidate(s)") and "1 of them quantization-aware" in n for n in result.notes)
