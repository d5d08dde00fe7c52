"""replace_op: change a node's operator type, domain and attributes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.modelps.edits.edit_helpers import (
    IF_MODEL,
    LOOP_MODEL,
    OPSET11_MODEL,
    W4,
    apply_and_check_undo,
    assert_refused,
    feeds_for,
    model,
    outputs,
    replay,
    run_both,
)


def test_relu_to_sigmoid_changes_outputs_as_promised() -> None:
    m = model(IF_MODEL)
    apply_and_check_undo(m, {"op": "replace_op", "node": "n3", "op_type": "Sigmoid"})
    feeds = feeds_for(m, seed=4, batch=3)
    feeds["c"] = np.array(False)
    got = outputs(m, feeds)
    r = 1 / (1 + np.exp(-(feeds["x"] * W4 + 0.5)))
    np.testing.assert_allclose(got["z"], np.tanh(r), rtol=1e-5)
    np.testing.assert_allclose(got["y"], -r, rtol=1e-5)
    assert next(n for n in m.ir.graph if n.name == "n3").op_type == "Sigmoid"
    replay(IF_MODEL, [e.to_dict() for e in m.history], m.to_bytes())


def test_global_average_to_max_pool_opset11() -> None:
    m = model(OPSET11_MODEL)
    edit = {"op": "replace_op", "node": "n2", "op_type": "GlobalMaxPool"}
    apply_and_check_undo(m, edit)
    feeds = feeds_for(m, seed=1, batch=2)
    m2 = model(OPSET11_MODEL)  # the Relu output, to compute the expected max
    m2.apply({"op": "add_output", "tensor": "r"})
    r = outputs(m2, feeds)["r"]
    np.testing.assert_allclose(outputs(m, feeds)["y"], r.max(axis=(2, 3)), rtol=1e-6)


def test_attributes_are_replaced_exactly() -> None:
    text = """<ir_version: 8, opset_import: ["" : 17]>
    g (float[N,6] x) => (float[N,6] y) { y = Softmax <axis = 1> (x) }"""
    m = model(text)
    apply_and_check_undo(m, {"op": "replace_op", "node": "n0", "op_type": "LogSoftmax", "attributes": {"axis": -1}})
    node = m.ir.graph[0]
    assert dict(node.attributes).keys() == {"axis"} and node.attributes["axis"].value == -1
    feeds = feeds_for(m, seed=0)
    x = feeds["x"]
    expected = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(outputs(m, feeds)["y"], expected, rtol=1e-5, atol=1e-6)


def test_loop_model_survives_replacing_a_node_beside_the_loop_opset21() -> None:
    m = model(LOOP_MODEL)
    apply_and_check_undo(m, {"op": "replace_op", "node": "n4", "op_type": "Tanh"})
    before, after = run_both(LOOP_MODEL, m)
    np.testing.assert_array_equal(before["s"], after["s"])
    x = feeds_for(model(LOOP_MODEL), seed=0, batch=2)["x"]
    np.testing.assert_allclose(after["y"], np.tanh(np.maximum(x, 0)), rtol=1e-5, atol=1e-6)


def test_output_type_change_is_reinferred_or_refused_by_validation() -> None:
    text = """<ir_version: 8, opset_import: ["" : 17]>
    g (float[N,6] x) => (float[N,6] y) { t = Relu(x)  y = Sigmoid(t) }"""
    m = model(text)
    assert_refused(m, {"op": "replace_op", "node": "n0", "op_type": "Shape"}, "n1.*tensor\\(int64\\)")
    text = text.replace("Sigmoid", "Neg")  # Neg takes int64: the new type flows through
    m = model(text)
    apply_and_check_undo(m, {"op": "replace_op", "node": "n0", "op_type": "Shape"})
    assert m.ir.graph.outputs[0].dtype.name == "INT64"
    np.testing.assert_array_equal(outputs(m, {"x": np.zeros((3, 6), np.float32)})["y"], [-3, -6])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"node": "n3", "op_type": "Add"}, r"Add takes 2 input\(s\); node 'n3' has 1"),
        ({"node": "n3", "op_type": "ArgMax"}, "invalid.*tensor\\(int64\\)"),
        ({"node": "n3", "op_type": "TopK"}, r"TopK takes 2 input\(s\)"),
        ({"node": "n3", "op_type": "Foo"}, "ONNX opset 17 has no operator 'Foo'"),
        ({"node": "n3", "op_type": "Relu"}, "node 'n3' is already Relu"),
        ({"node": "n4", "op_type": "Relu"}, "holds subgraphs"),
        ({"node": "ghost", "op_type": "Relu"}, "no node named 'ghost'"),
        ({"node": "n3", "op_type": "Dropout", "attributes": {"ratio": "x"}}, "invalid"),
    ],
)
def test_refusals_leave_the_model_unchanged(edit: dict[str, object], message: str) -> None:
    assert_refused(model(IF_MODEL), {"op": "replace_op", **edit}, message)


def test_attribute_types_follow_the_new_schema() -> None:
    m = model(IF_MODEL)
    apply_and_check_undo(m, {"op": "replace_op", "node": "n3", "op_type": "LeakyRelu", "attributes": {"alpha": 0}})
    assert next(n for n in m.ir.graph if n.name == "n3").attributes["alpha"].type.name == "FLOAT"
    feeds = feeds_for(m, seed=0)
    np.testing.assert_allclose(outputs(m, feeds)["z"], np.tanh(np.maximum(feeds["x"] * W4 + 0.5, 0)), rtol=1e-6)
