"""The genie on models as they come: dynamic dims, small calibration sets, any output rank, cancel, mixed precision."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from genie import Goal, search
from genie.inputs import prepare_inputs
from modelps.errors import ModelPSError
from modelps.fidelity import fidelity, score
from modelps.io import save
from modelps.model import Model
from modelps.runtime import run
from tests.genie.dynamic_nets import calib_arrays, segmenter


@pytest.fixture(scope="module")
def dynamic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("dynamic")
    save(segmenter(), folder / "seg.onnx")
    np.savez(folder / "calib.npz", x=calib_arrays(5, 64, 96))
    return folder / "seg.onnx", folder / "calib.npz"


def _outputs(path_or_model: object, batches: list[np.ndarray]) -> list[np.ndarray]:
    model = Model.load(path_or_model).ir if isinstance(path_or_model, Path) else path_or_model
    runs = [run(model, {"x": b}) for b in batches]
    return [np.concatenate([r[name] for r in runs]) for name in ("y0", "y1")]


@pytest.mark.slow
def test_dynamic_model_is_recommended_and_runs_at_other_sizes(dynamic: tuple[Path, Path]) -> None:
    # regression: "input 'x' has a dynamic shape [...]; fix it with set_input_shape first" although --calib had arrays
    path, calib = dynamic
    goal = Goal(calib=str(calib), min_fidelity=0.98, budget_s=60, threads=1, methods=("quantize",))
    result = search(path, goal)
    best = result.recommended
    assert best is not None, result.message
    assert any("measured at x 1x3x64x96" in note for note in result.notes)
    assert any("also checked at other input sizes" in note for note in result.notes)
    # the small set was topped up: 32 held-out inputs, a centred cosine with its error (never a 0 for one sample)
    assert best.fidelity["samples"] == 32 and 0.98 <= best.score < 1.0 and best.score_se > 0
    model = Model.load(path)
    model.apply_recipe(best.recipe)
    dims = [d.value if hasattr(d, "value") else d for d in model.ir.graph.inputs[0].shape]
    assert dims == ["N", 3, "H", "W"]  # the recommended model keeps its dynamic dims
    for shape in ((2, 3, 48, 80), (1, 3, 96, 128)):
        batches = [calib_arrays(shape[0], *shape[2:], seed=s) for s in range(8)]
        got = fidelity(_outputs(path, batches), _outputs(model.ir, batches))
        assert score(got) >= best.score - 0.01, (shape, got)


def test_dynamic_model_without_a_shape_says_how_to_give_one(dynamic: tuple[Path, Path]) -> None:
    path, _ = dynamic
    base = Model.load(path).ir
    with pytest.raises(ModelPSError, match=r"input 'x' has a dynamic shape .*--shape x:1x3xNxN"):
        prepare_inputs(base, Goal())
    inputs = prepare_inputs(base, Goal(shapes={"x": (1, 3, 64, 64)}, holdout_samples=8, calib_samples=4))
    assert inputs.shapes == {"x": (1, 3, 64, 64)} and len(inputs.held) == 8
    assert inputs.input_shapes == {"x": [1, 3, 64, 64]}  # recorded in the recipes that calibrate
    with pytest.raises(ModelPSError, match="differs from the calibration arrays"):
        prepare_inputs(base, Goal(calib=str(dynamic[1]), shapes={"x": (1, 3, 32, 32)}))


def test_small_calibration_set_is_topped_up_and_said(dynamic: tuple[Path, Path]) -> None:
    path, calib = dynamic
    inputs = prepare_inputs(Model.load(path).ir, Goal(calib=str(calib)))
    assert len(inputs.held) == 32 and len(inputs.calib) == 16
    assert inputs.source == f"{calib}+augmented"
    assert any("5 calibration input(s) given" in note and "crops of them" in note for note in inputs.notes)
    given = np.load(calib)["x"]
    np.testing.assert_array_equal(np.concatenate([f["x"] for f in inputs.calib[:5]]), given)  # the user's own first
    calibrated = {f["x"].tobytes() for f in inputs.calib}
    assert len(calibrated) == 16 and not any(f["x"].tobytes() in calibrated for f in inputs.held + inputs.confirm)
    assert inputs.refit_samples == 48  # crops re-fit pruned layers better than 16 inputs
    assert inputs.groups == [k % 5 for k in range(32)]  # each held-out crop's source image
    replayed = prepare_inputs(Model.load(path).ir, Goal(calib=str(calib)))  # deterministic: a recipe replays it
    for a, b in zip(inputs.calib + inputs.held, replayed.calib + replayed.held, strict=True):
        np.testing.assert_array_equal(a["x"], b["x"])


def test_enough_given_inputs_are_held_out_of_calibration(dynamic: tuple[Path, Path], tmp_path: Path) -> None:
    given = np.random.default_rng(3).normal(size=(28, 3, 48, 48)).astype(np.float32)
    npz = tmp_path / "many.npz"
    np.savez(npz, x=given)
    inputs = prepare_inputs(Model.load(dynamic[0]).ir, Goal(calib=str(npz)))
    assert inputs.source == str(npz) and len(inputs.calib) == 16 and len(inputs.held) == 32
    np.testing.assert_array_equal(np.concatenate([f["x"] for f in inputs.calib]), given[:16])
    np.testing.assert_array_equal(np.concatenate([f["x"] for f in inputs.held[:12]]), given[16:])
    calibrated = {f["x"].tobytes() for f in inputs.calib}
    assert not any(f["x"].tobytes() in calibrated for f in inputs.held)
    told = "calibration on the first 16; held-out set of 32: the next 12 and crops of them"
    assert any(told in note for note in inputs.notes)
    assert len(inputs.confirm) == 16  # crops of the held-out images: the pick is confirmed on other inputs


@pytest.mark.slow
def test_mixed_precision_keeps_the_sensitive_layers_in_float(dynamic: tuple[Path, Path], tmp_path: Path) -> None:
    path = tmp_path / "outlier.onnx"
    save(segmenter(outlier=300.0), path)
    goal = Goal(calib=str(dynamic[1]), min_fidelity=0.9999, budget_s=60, threads=1, methods=("quantize",))
    result = search(path, goal)
    mixed = [c for c in result.candidates if c.kept_float]
    assert mixed, [c.name for c in result.candidates]
    plain = max(c.score for c in result.candidates if not c.kept_float)
    assert max(c.score for c in mixed) > plain
    for cand in mixed:
        assert set(cand.kept_float) <= set(cand.recipe.edits[0].exclude)
        assert "most sensitive layer(s) in float" in cand.explanation
    assert any(note.startswith("mixed precision from") for note in result.notes)


@pytest.mark.slow
def test_cancel_stops_within_seconds_and_keeps_what_was_measured(dynamic: tuple[Path, Path]) -> None:
    path, calib = dynamic
    cancel = threading.Event()
    timer = threading.Timer(4.0, cancel.set)
    timer.start()
    started = time.monotonic()
    result = search(path, Goal(calib=str(calib), budget_s=600, threads=1), cancel=cancel)
    timer.cancel()
    assert result.cancelled
    assert time.monotonic() - started < 120  # a 600 s budget, stopped early
    assert result.baseline.latency_ms > 0 and result.candidates
    assert any(note.startswith("cancelled after") for note in result.notes)
