"""Held-out and confirmation inputs never overlap calibration; a pick that fails on fresh inputs is dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx_ir as ir
import pytest

from genie.budget import Clock
from genie.goal import Candidate, Goal
from genie.inputs import prepare_inputs
from genie.search import _recommend_checked
from genie.verify import confirm, leave_out
from modelps.compress.calib import AUGMENTED, source_sha256
from modelps.edits.prune_channels import PruneChannels
from modelps.edits.quantize_int8 import QuantizeInt8
from modelps.io import save
from modelps.recipe import Recipe
from tests.modelps.compress import nets


def _bytes(feeds: list[dict[str, np.ndarray]]) -> set[bytes]:
    return {f["x"].tobytes() for f in feeds}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> tuple[ir.Model, Path]:
    model = nets.resnet18()
    assert model.graph.inputs[0].name == "x"
    path = tmp_path_factory.mktemp("confirm") / "r18.onnx"
    save(model, path)
    return model, path


def test_enough_given_inputs_leave_a_confirmation_set(net: tuple[ir.Model, Path], tmp_path: Path) -> None:
    given = np.random.default_rng(0).normal(size=(64, 3, 32, 32)).astype(np.float32)
    np.savez(tmp_path / "many.npz", x=given)
    inputs = prepare_inputs(net[0], Goal(calib=str(tmp_path / "many.npz")))
    assert [len(inputs.calib), len(inputs.held), len(inputs.confirm)] == [16, 32, 16]
    np.testing.assert_array_equal(np.concatenate([f["x"] for f in inputs.confirm]), given[48:])
    assert not _bytes(inputs.confirm) & (_bytes(inputs.calib) | _bytes(inputs.held))


def test_a_folder_is_split_like_an_npz(net: tuple[ir.Model, Path], tmp_path: Path) -> None:
    from skimage import io as skio

    rng = np.random.default_rng(1)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(30):
        skio.imsave(folder / f"{i:02d}.png", rng.integers(0, 255, size=(40, 40, 3), dtype=np.uint8))
    inputs = prepare_inputs(net[0], Goal(calib=str(folder)))
    assert inputs.source == str(folder) and len(inputs.calib) == 16 and len(inputs.held) == 32
    assert not _bytes(inputs.calib) & _bytes(inputs.held)  # before: held-out were the first 32 images, calib included
    assert not _bytes(inputs.confirm) & _bytes(inputs.calib)


def _candidate(name: str, path: Path, score: float) -> Candidate:
    cand = Candidate(name, Recipe(()), latency_ms=1.0, speedup=3.0, fidelity={"centered_cosine": score})
    cand.details["model_path"] = str(path)
    return cand


def test_a_pick_that_fails_on_fresh_inputs_is_dropped(net: tuple[ir.Model, Path], tmp_path: Path) -> None:
    model, path = net
    damaged = nets.resnet18()
    for value in damaged.graph.initializers.values():  # what a lucky held-out set would hide: a broken model
        array = value.const_value.numpy()
        if array.ndim == 4:
            noise = np.random.default_rng(2).normal(size=array.shape).astype(np.float32)
            value.const_value = ir.tensor(array + 0.8 * array.std() * noise)
    save(damaged, tmp_path / "damaged.onnx")
    goal = Goal(min_fidelity=0.99)
    inputs = prepare_inputs(model, goal)
    lucky = _candidate("lucky", tmp_path / "damaged.onnx", 0.999)
    same = _candidate("same", path, 0.995)
    same.speedup = 2.0
    ok, line = confirm(model, lucky, inputs, goal, {})
    assert not ok and line.startswith("lucky is not confirmed: ") and "chosen at 0.9990" in line
    baseline = _candidate("original", path, 1.0)
    baseline.speedup, baseline.latency_ms = 1.0, 3.0
    notes: list[str] = []
    best, _, _ = _recommend_checked(model, [lucky, same], baseline, goal, inputs, notes, tmp_path, Clock(600))
    assert best is same and same.details["confirmed_fidelity"] == pytest.approx(1.0, abs=1e-6)
    assert notes[0].startswith("lucky is not confirmed") and notes[1].startswith("same confirmed: 1.0000 on 16 inputs")


def test_crops_of_few_images_widen_the_standard_error() -> None:
    from genie.inputs import compare

    rng = np.random.default_rng(0)
    reference = {"y": rng.normal(size=(32, 64)).astype(np.float32)}
    groups = [k % 4 for k in range(32)]
    noise = np.array([0.02, 0.02, 0.3, 0.02])[groups][:, None]  # one source image is much worse
    outputs = {"y": reference["y"] + noise * rng.normal(size=(32, 64)).astype(np.float32)}
    plain = compare(reference, outputs)
    grouped = compare(reference, outputs, groups)
    assert grouped["centered_cosine"] == plain["centered_cosine"]
    assert grouped["centered_cosine_se"] > 1.5 * plain["centered_cosine_se"]
    assert grouped["independent_samples"] == 4 and "independent_samples" not in plain
    assert compare(reference, outputs, [0] * 32)["centered_cosine_se"] == plain["centered_cosine_se"]  # one source


def test_a_small_set_leaves_its_last_images_out_in_turn(net: tuple[ir.Model, Path], tmp_path: Path) -> None:
    given = np.random.default_rng(3).normal(size=(5, 3, 32, 32)).astype(np.float32)
    np.savez(tmp_path / "five.npz", x=given)
    inputs = prepare_inputs(net[0], Goal(calib=str(tmp_path / "five.npz")))
    assert inputs.source == str(tmp_path / "five.npz") + AUGMENTED
    assert [f.left_out for f in inputs.folds] == [4, 3]
    for fold in inputs.folds:
        assert _bytes(fold.fit) == {given[i : i + 1].tobytes() for i in range(5) if i != fold.left_out}
        assert len(fold.test) == 8 and not _bytes(fold.test) & _bytes([{"x": g[None]} for g in given])
    np.savez(tmp_path / "two.npz", x=given[:2])
    assert prepare_inputs(net[0], Goal(calib=str(tmp_path / "two.npz"))).folds == []  # too few to leave one out


def test_a_pick_is_re_fit_without_each_left_out_image(net: tuple[ir.Model, Path], tmp_path: Path, monkeypatch) -> None:
    import genie.verify as verify

    model, _ = net
    np.savez(tmp_path / "five.npz", x=np.random.default_rng(3).normal(size=(5, 3, 32, 32)).astype(np.float32))
    inputs = prepare_inputs(model, Goal(calib=str(tmp_path / "five.npz")))
    prune = PruneChannels(ratio=0.25, reconstruct=inputs.source, calib_sha256="0" * 64, calib_samples=16)
    quant = QuantizeInt8(calib=inputs.source, calib_sha256=source_sha256(inputs.source), calib_samples=16)
    cand = Candidate("int8-prune", Recipe((prune, quant)), latency_ms=1.0, speedup=2.0, fidelity={"centered_cosine": 1})
    built: list = []
    real = verify.build_model
    monkeypatch.setattr(verify, "build_model", lambda base, edits: built.append(edits) or real(base, edits))
    ok, line = leave_out(model, cand, inputs, Goal(min_fidelity=0.0), tmp_path, {})
    assert ok and line.startswith("int8-prune holds on images it was not fitted to: ")
    assert "input #5, #4 (its prune_channels redone without each" in line
    assert [edits[0].reconstruct for edits in built] == [
        str(tmp_path / f"fold-without-{i}.npz") + AUGMENTED for i in (4, 3)
    ]
    assert all(edits[0].calib_sha256 is None and edits[1] == quant for edits in built)  # INT8 ranges: all images
    assert 0.0 < cand.details["left_out_fidelity"] < 0.99
    built.clear()
    ok, line = leave_out(model, cand, inputs, Goal(min_fidelity=1.0), tmp_path, {})
    assert not ok and "does not hold" in line and "input #5 (its prune_channels redone without it" in line
    assert len(built) == 1  # far below the floor: one fold is enough
    only_int8 = Candidate("int8", Recipe((quant,)), latency_ms=1.0, speedup=2.0, fidelity={"centered_cosine": 1})
    assert leave_out(model, only_int8, inputs, Goal(min_fidelity=1.0), tmp_path, {}) == (True, "")
