"""set_input_shape: static or symbolic dims on any axis of a graph input."""

from __future__ import annotations

import numpy as np
import pytest

from tests.modelps.edits.edit_helpers import (
    IF_MODEL,
    LOOP_MODEL,
    OPSET11_MODEL,
    apply_and_check_undo,
    assert_refused,
    feeds_for,
    model,
    outputs,
    replay,
    run_both,
)


def _dims(shape: object) -> list[object]:
    return [d if isinstance(d, int) else d.value for d in shape]  # type: ignore[attr-defined]


def test_static_batch_propagates_to_outputs_and_keeps_function() -> None:
    m = model(OPSET11_MODEL)
    apply_and_check_undo(m, {"op": "set_input_shape", "input": "x", "shape": [2, 3, 6, 6]})
    assert _dims(m.ir.graph.outputs[0].shape) == [2, 2]
    before, after = run_both(OPSET11_MODEL, m, batch=2)
    np.testing.assert_array_equal(before["y"], after["y"])
    replay(OPSET11_MODEL, [e.to_dict() for e in m.history], m.to_bytes())


def test_symbolic_dim_on_a_spatial_axis() -> None:
    m = model(OPSET11_MODEL)
    apply_and_check_undo(m, {"op": "set_input_shape", "input": "x", "axis": -1, "dim": "width"})
    assert _dims(m.ir.graph.inputs[0].shape) == ["batch", 3, 6, "width"]
    feeds = feeds_for(m, seed=0, batch=2, dims={"width": 9})
    assert feeds["x"].shape == (2, 3, 6, 9)
    assert outputs(m, feeds)["y"].shape == (2, 2)


def test_unknown_dim_with_null() -> None:
    m = model(OPSET11_MODEL)
    apply_and_check_undo(m, {"op": "set_input_shape", "input": "x", "axis": 2, "dim": None})
    dim = m.ir.graph.inputs[0].shape[2]
    assert not isinstance(dim, int) and dim.value is None


@pytest.mark.parametrize("text", [IF_MODEL, LOOP_MODEL], ids=["if_opset17", "loop_opset21"])
def test_stale_downstream_shapes_are_reinferred_with_subgraphs(text: str) -> None:
    m = model(text)
    apply_and_check_undo(m, {"op": "set_input_shape", "input": "x", "axis": 0, "dim": 5})
    assert _dims(m.ir.graph.outputs[0].shape) == [5, 4]
    before, after = run_both(text, m, batch=5)
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])


def test_value_info_downstream_is_updated() -> None:
    text = """<ir_version: 8, opset_import: ["" : 17]>
    g (float[N,4] x) => (float[N,4] y) <float[N,4] t> { t = Relu(x)  y = Neg(t) }"""
    m = model(text)
    apply_and_check_undo(m, {"op": "set_input_shape", "input": "x", "shape": [7, 4]})
    t = m.ir.graph[0].outputs[0]
    assert _dims(t.shape) == [7, 4] and _dims(m.ir.graph.outputs[0].shape) == [7, 4]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"input": "x", "shape": [2, 3, 6]}, "changing the rank of input 'x' from 4 to 3 breaks its consumers"),
        ({"input": "x", "shape": [2, -3, 6, 6]}, "dimension -3 is negative"),
        ({"input": "x", "shape": [2, 3, 6, ""]}, "symbolic dimension name is empty"),
        ({"input": "r", "shape": [2, 3, 6, 6]}, "tensor 'r' is not a graph input"),
        ({"input": "w", "shape": [2, 3, 3, 3]}, "'w' is not a graph input"),
        ({"input": "x", "shape": ["batch", 3, 6, 6]}, r"already has shape \['batch', 3, 6, 6\]"),
        ({"input": "x", "axis": 4, "dim": 1}, "axis 4 is out of range for input 'x' of rank 4"),
        ({"input": "x"}, "give either shape"),
        ({"input": "x", "shape": [1, 3, 6, 6], "axis": 0, "dim": 1}, "give either shape"),
    ],
)
def test_refusals_leave_the_model_unchanged(edit: dict[str, object], message: str) -> None:
    assert_refused(model(OPSET11_MODEL), {"op": "set_input_shape", **edit}, message)


def test_refuses_initializer_listed_as_input() -> None:
    text = """<ir_version: 3, opset_import: ["" : 9]>
    g (float[2] x, float[2] w) => (float[2] y) <float[2] w = {1, 2}> { y = Add(x, w) }"""
    assert_refused(model(text), {"op": "set_input_shape", "input": "w", "shape": [3]}, "'w' is an initializer")


def test_reshape_to_a_baked_batch_is_refused() -> None:
    text = """<ir_version: 8, opset_import: ["" : 17]>
    g (float[1,2,3] x) => (float[1,6] y) <int64[2] fixed = {1, 6}> { r = Relu(x)  y = Reshape(r, fixed) }"""
    assert_refused(
        model(text),
        {"op": "set_input_shape", "input": "x", "axis": 0, "dim": 4},
        r"Reshape node 'n1' cannot reshape 24 elements \(shape \[4, 2, 3\]\) to \[1, 6\]",
    )


@pytest.mark.parametrize("target", ["{0, 6}", "{-1, 6}", "{0, -1}"])
def test_reshape_with_0_or_minus_1_follows_the_new_batch(target: str) -> None:
    text = f"""<ir_version: 8, opset_import: ["" : 17]>
    g (float[1,2,3] x) => (float[1,6] y) <int64[2] s = {target}> {{ r = Relu(x)  y = Reshape(r, s) }}"""
    m = model(text)
    apply_and_check_undo(m, {"op": "set_input_shape", "input": "x", "axis": 0, "dim": 4})
    feeds = feeds_for(m, seed=0)
    np.testing.assert_array_equal(outputs(m, feeds)["y"], np.maximum(feeds["x"], 0).reshape(4, 6))
