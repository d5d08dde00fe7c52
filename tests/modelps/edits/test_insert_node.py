"""insert_node: a new node between a tensor and its consumers."""

from __future__ import annotations

import numpy as np
import pytest

from tests.modelps.edits.edit_helpers import (
    IF_MODEL,
    LOOP_MODEL,
    OPSET11_MODEL,
    SURVIVORS,
    W4,
    apply_and_check_undo,
    assert_refused,
    feeds_for,
    model,
    outputs,
    replay,
    run_both,
)


def test_mul_by_constant_scales_every_consumer_and_undo_restores_bytes() -> None:
    m = model(IF_MODEL)
    edit = {"op": "insert_node", "tensor": "r", "op_type": "Mul", "constants": [2.0]}
    apply_and_check_undo(m, edit)
    feeds = feeds_for(m, seed=3)
    feeds["c"] = np.array(False)
    got = outputs(m, feeds)
    r2 = 2 * np.maximum(feeds["x"] * W4 + 0.5, 0)
    np.testing.assert_allclose(got["z"], np.tanh(r2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["y"], -r2, rtol=1e-6)  # the If's else branch reads it too
    node = next(n for n in m.ir.graph if n.name == "Mul_r")
    assert [v.name for v in node.inputs] == ["r", "Mul_r_c0"]
    assert m.ir.graph.initializers["Mul_r_c0"].const_value.numpy().tolist() == 2.0
    replay(IF_MODEL, [e.to_dict() for e in m.history], m.to_bytes())


def test_if_branch_reading_the_tensor_reads_the_new_output() -> None:
    m = model(IF_MODEL)
    apply_and_check_undo(m, {"op": "insert_node", "tensor": "r", "op_type": "Neg", "name": "flip"})
    feeds = feeds_for(m, seed=1)
    feeds["c"] = np.array(False)
    # else branch is Neg(r): with r negated it gives r back
    r = np.maximum(feeds["x"] * W4 + 0.5, 0)
    np.testing.assert_allclose(outputs(m, feeds)["y"], r, rtol=1e-6)


def test_on_graph_output_keeps_the_output_name_and_type() -> None:
    m = model(IF_MODEL)
    apply_and_check_undo(m, {"op": "insert_node", "tensor": "z", "op_type": "Neg"})
    assert [o.name for o in m.ir.graph.outputs] == ["y", "z"]
    out = m.ir.graph.outputs[1]
    assert out.producer().op_type == "Neg"
    assert str(out.shape) == "[N,4]"
    assert out.producer().inputs[0].name == "z_pre"
    before, after = run_both(IF_MODEL, m)
    np.testing.assert_array_equal(after["z"], -before["z"])


def test_transpose_on_graph_input_opset11() -> None:
    m = model(OPSET11_MODEL)
    edit = {"op": "insert_node", "tensor": "x", "op_type": "Transpose", "attributes": {"perm": [0, 1, 3, 2]}}
    apply_and_check_undo(m, edit)
    assert m.ir.graph.inputs[0].name == "x"
    before, after = run_both(OPSET11_MODEL, m, batch=3)
    assert after["y"].shape == (3, 2)
    assert not np.allclose(before["y"], after["y"])


def test_declared_shapes_downstream_are_reinferred() -> None:
    text = """<ir_version: 8, opset_import: ["" : 17]>
    g (float[N,2,3] x) => (float[N,2,3] y) <float[N,2,3] r> { r = Relu(x)  y = Neg(r) }"""
    m = model(text)
    apply_and_check_undo(
        m, {"op": "insert_node", "tensor": "x", "op_type": "Transpose", "attributes": {"perm": [0, 2, 1]}}
    )
    graph = m.ir.graph
    assert [str(v.shape) for v in (graph[0].outputs[0], graph[1].outputs[0], graph.outputs[0])] == ["[N,3,2]"] * 3
    feeds = feeds_for(m, seed=0, batch=2)
    np.testing.assert_array_equal(outputs(m, feeds)["y"], -np.maximum(feeds["x"].transpose(0, 2, 1), 0))


def test_clip_with_constants_of_explicit_dtype_opset21() -> None:
    m = model(LOOP_MODEL)
    edit = {
        "op": "insert_node",
        "tensor": "h",
        "op_type": "Clip",
        "constants": [0.0, 0.5],
        "constants_dtype": "float32",
    }
    apply_and_check_undo(m, edit)
    feeds = feeds_for(m, seed=2, batch=3)
    got = outputs(m, feeds)
    h = np.clip(np.maximum(feeds["x"], 0), 0.0, 0.5)
    np.testing.assert_allclose(got["y"], 1 / (1 + np.exp(-h)), rtol=1e-5)
    np.testing.assert_allclose(got["s"], h + 3 * feeds["x"], rtol=1e-5, atol=1e-6)


def test_inputs_extra_uses_an_existing_tensor() -> None:
    m = model(IF_MODEL)
    apply_and_check_undo(m, {"op": "insert_node", "tensor": "t", "op_type": "Add", "inputs_extra": ["w"]})
    feeds = feeds_for(m, seed=5)
    expected = np.tanh(np.maximum(feeds["x"] * W4 + W4 + 0.5, 0))
    np.testing.assert_allclose(outputs(m, feeds)["z"], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(SURVIVORS))
def test_subgraph_models_survive_and_replay(name: str) -> None:
    text = SURVIVORS[name]
    m = model(text)
    tensor = {"if_opset17": "u", "loop_opset21": "h", "conv_opset11": "r"}[name]
    apply_and_check_undo(m, {"op": "insert_node", "tensor": tensor, "op_type": "Identity"})
    before, after = run_both(text, m)
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])
    replay(text, [e.to_dict() for e in m.history], m.to_bytes())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"tensor": "nope", "op_type": "Relu"}, "no tensor named 'nope'"),
        ({"tensor": "r", "op_type": "Relu", "name": "n3"}, "a node named 'n3' already exists"),
        ({"tensor": "r", "op_type": "Relu", "inputs_extra": ["ghost"]}, "no tensor named 'ghost'"),
        ({"tensor": "r", "op_type": "Mul", "constants": [[[1, 2], [3]]]}, "constant #1 is not a numeric array"),
        ({"tensor": "r", "op_type": "Mul", "constants": [1], "constants_dtype": "float99"}, "unknown element type"),
        ({"tensor": "r", "op_type": "NoSuchOp"}, "ONNX opset 17 has no operator 'NoSuchOp'"),
        ({"tensor": "r", "op_type": "Add"}, r"Add takes 2 input\(s\); the new node has 1"),
        ({"tensor": "r", "op_type": "Mul", "constants": [1], "constants_dtype": "int64"}, "Mul_r.*inconsistent type"),
        ({"tensor": "r", "op_type": "Foo", "domain": "custom.x"}, "cannot be inferred"),
        ({"tensor": "r", "op_type": ""}, "op_type is empty"),
    ],
)
def test_refusals_leave_the_model_unchanged(edit: dict[str, object], message: str) -> None:
    assert_refused(model(IF_MODEL), {"op": "insert_node", **edit}, message)


def test_refuses_tensor_that_is_both_input_and_output() -> None:
    text = """<ir_version: 8, opset_import: ["" : 17]>
    g (float[2] x) => (float[2] x, float[2] y) { y = Relu(x) }"""
    assert_refused(
        model(text), {"op": "insert_node", "tensor": "x", "op_type": "Neg"}, "both a graph input and a graph output"
    )


def test_attribute_types_follow_the_schema() -> None:
    m = model(IF_MODEL)
    apply_and_check_undo(m, {"op": "insert_node", "tensor": "u", "op_type": "LeakyRelu", "attributes": {"alpha": 1}})
    node = next(n for n in m.ir.graph if n.op_type == "LeakyRelu")
    assert node.attributes["alpha"].type.name == "FLOAT"
    feeds = feeds_for(m, seed=0)
    u = feeds["x"] * W4 + 0.5
    np.testing.assert_allclose(outputs(m, feeds)["z"], np.tanh(np.maximum(u, 0)), rtol=1e-6)
