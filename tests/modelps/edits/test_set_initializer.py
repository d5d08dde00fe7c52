"""set_initializer: replace a weight from a .npy file or an inline list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelps import EditError, Recipe, file_sha256
from tests.modelps.edits.edit_helpers import (
    CONV_W,
    IF_MODEL,
    LOOP_MODEL,
    OPSET11_MODEL,
    apply_and_check_undo,
    assert_refused,
    feeds_for,
    model,
    outputs,
    replay,
)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_npy_replaces_weight_and_records_sha256(in_tmp: Path) -> None:
    np.save("w.npy", np.full(4, 2.0, np.float32))
    m = model(IF_MODEL)
    apply_and_check_undo(m, {"op": "set_initializer", "name": "w", "path": "w.npy"})
    assert m.recipe.to_dict()["edits"][0]["sha256"] == file_sha256("w.npy")
    feeds = feeds_for(m, seed=1)
    np.testing.assert_allclose(outputs(m, feeds)["z"], np.tanh(np.maximum(2 * feeds["x"] + 0.5, 0)), rtol=1e-6)
    replay(IF_MODEL, [e.to_dict() for e in m.history], m.to_bytes())


def test_replay_refuses_a_changed_file(in_tmp: Path) -> None:
    np.save("w.npy", np.full(4, 2.0, np.float32))
    m = model(IF_MODEL)
    m.apply({"op": "set_initializer", "name": "w", "path": "w.npy"})
    recipe = Recipe.from_json(m.recipe.to_json())
    np.save("w.npy", np.full(4, 3.0, np.float32))
    fresh = model(IF_MODEL)
    before = fresh.to_bytes()
    with pytest.raises(EditError, match="'w.npy' has changed: its sha256 is"):
        fresh.apply_recipe(recipe)
    assert fresh.to_bytes() == before


def test_inline_values_into_a_constant_node() -> None:
    m = model(IF_MODEL)
    apply_and_check_undo(m, {"op": "set_initializer", "name": "k", "values": [1.5]})
    feeds = feeds_for(m, seed=2)
    w = np.array([1.0, -2.0, 3.0, 0.5], np.float32)
    np.testing.assert_allclose(outputs(m, feeds)["z"], np.tanh(np.maximum(w * feeds["x"] + 1.5, 0)), rtol=1e-6)


def test_conv_weight_opset11_and_loop_model_untouched(in_tmp: Path) -> None:
    np.save("conv.npy", -CONV_W)
    m = model(OPSET11_MODEL)
    apply_and_check_undo(m, {"op": "set_initializer", "name": "w", "path": "conv.npy"})
    assert np.array_equal(m.ir.graph.initializers["w"].const_value.numpy(), -CONV_W)
    loop = model(LOOP_MODEL)
    apply_and_check_undo(loop, {"op": "set_initializer", "name": "trips", "values": 5})
    feeds = feeds_for(loop, seed=0, batch=2)
    got = outputs(loop, feeds)
    np.testing.assert_allclose(got["s"], np.maximum(feeds["x"], 0) + 5 * feeds["x"], rtol=1e-5, atol=1e-6)


def test_allow_reshape_changes_shape_and_downstream_types(in_tmp: Path) -> None:
    np.save("w1.npy", np.array([3.0], np.float32))
    m = model(IF_MODEL)
    apply_and_check_undo(m, {"op": "set_initializer", "name": "w", "path": "w1.npy", "allow_reshape": True})
    assert list(m.ir.graph.initializers["w"].shape) == [1]
    feeds = feeds_for(m, seed=3, batch=2)
    np.testing.assert_allclose(outputs(m, feeds)["z"], np.tanh(np.maximum(3 * feeds["x"] + 0.5, 0)), rtol=1e-6)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"name": "w", "path": "w64.npy"}, "'w64.npy' holds float64 data but 'w' is FLOAT"),
        ({"name": "w", "path": "w5.npy"}, r"'w5.npy' has shape \[5\] but 'w' has shape \[4\]; set allow_reshape"),
        ({"name": "w", "path": "w5.npy", "allow_reshape": True}, "invalid"),
        ({"name": "w", "values": [1, 2]}, r"values has shape \[2\]"),
        ({"name": "nope", "values": [1]}, "no initializer named 'nope'"),
        ({"name": "r", "values": [1]}, "'r' is not an initializer or a Constant"),
        ({"name": "w", "path": "w.npy", "sha256": "0" * 64}, "'w.npy' has changed"),
        ({"name": "w", "path": "obj.npy"}, "not a readable .npy array without pickle"),
        ({"name": "w", "path": "w.npy", "values": [1, 2, 3, 4]}, "give either path"),
        ({"name": "w", "values": ["a", "b", "c", "d"]}, "values are not a numeric array of FLOAT"),
        ({"name": "w", "values": list(range(5000))}, "put more than 4096 in a .npy file"),
    ],
)
def test_refusals_leave_the_model_unchanged(in_tmp: Path, edit: dict[str, object], message: str) -> None:
    np.save("w.npy", np.full(4, 2.0, np.float32))
    np.save("w64.npy", np.full(4, 2.0, np.float64))
    np.save("w5.npy", np.full(5, 2.0, np.float32))
    np.save("obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert_refused(model(IF_MODEL), {"op": "set_initializer", **edit}, message)


def test_missing_file_is_refused_when_the_edit_is_made(in_tmp: Path) -> None:
    with pytest.raises(EditError, match="cannot read 'absent.npy'"):
        model(IF_MODEL).apply({"op": "set_initializer", "name": "w", "path": "absent.npy"})


def test_npy_declaring_more_data_than_it_holds_is_refused(in_tmp: Path) -> None:
    with open("huge.npy", "wb") as f:
        header = {"descr": "<f4", "fortran_order": False, "shape": (10**12,)}
        np.lib.format.write_array_header_1_0(f, header)
        f.write(np.full(4, 2.0, np.float32).tobytes())
    edit = {"op": "set_initializer", "name": "w", "path": "huge.npy"}
    assert_refused(model(IF_MODEL), edit, "'huge.npy' is not a readable .npy array without pickle")
