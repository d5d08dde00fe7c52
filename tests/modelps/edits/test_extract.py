"""extract: the subgraph between chosen tensors."""

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
    tensor_text,
)

# A small re-id style network: backbone -> embedding -> classifier head.
EMB_W = np.linspace(-0.5, 0.5, 24, dtype=np.float32).reshape(6, 4)
CLS_W = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
REID = f"""<ir_version: 8, opset_import: ["" : 17]>
reid (float[B,6] image) => (float[B,3] logits)
  <{tensor_text("float", "emb_w", EMB_W)}, {tensor_text("float", "cls_w", CLS_W)}> {{
  feat = MatMul(image, emb_w)
  emb = LpNormalization <axis = 1, p = 2> (feat)
  drop = Dropout(emb)
  cls = MatMul(drop, cls_w)
  logits = Softmax <axis = 1> (cls)
}}"""


def test_cut_the_classifier_head_off_a_reid_model() -> None:
    m = model(REID)
    apply_and_check_undo(m, {"op": "extract", "inputs": ["image"], "outputs": ["emb"]})
    assert [v.name for v in m.ir.graph.outputs] == ["emb"]
    assert sorted(m.ir.graph.initializers) == ["emb_w"]
    assert [n.op_type for n in m.ir.graph] == ["MatMul", "LpNormalization"]
    feeds = feeds_for(m, seed=0, batch=5)
    feat = feeds["image"] @ EMB_W
    expected = feat / np.linalg.norm(feat, axis=1, keepdims=True)
    np.testing.assert_allclose(outputs(m, feeds)["emb"], expected, rtol=1e-5, atol=1e-6)
    assert str(m.ir.graph.outputs[0].shape) == "[B,4]"
    replay(REID, [e.to_dict() for e in m.history], m.to_bytes())


def test_intermediate_tensor_becomes_an_input() -> None:
    m = model(REID)
    apply_and_check_undo(m, {"op": "extract", "inputs": ["emb"], "outputs": ["logits"]})
    assert [(v.name, str(v.shape)) for v in m.ir.graph.inputs] == [("emb", "[B,4]")]
    emb = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    cls = emb @ CLS_W
    expected = np.exp(cls) / np.exp(cls).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(outputs(m, {"emb": emb})["logits"], expected, rtol=1e-5)


def test_if_subgraph_reading_the_cut_tensor_is_kept() -> None:
    m = model(IF_MODEL)
    apply_and_check_undo(m, {"op": "extract", "inputs": ["r", "c"], "outputs": ["y"]})
    assert [n.op_type for n in m.ir.graph] == ["If"]
    r = np.abs(np.random.default_rng(1).standard_normal((2, 4))).astype(np.float32)
    np.testing.assert_allclose(outputs(m, {"r": r, "c": np.array(False)})["y"], -r)
    np.testing.assert_allclose(outputs(m, {"r": r, "c": np.array(True)})["y"], 1 / (1 + np.exp(-r)), rtol=1e-6)


def test_if_model_survives_extracting_the_other_branch_with_constants() -> None:
    m = model(IF_MODEL)
    apply_and_check_undo(m, {"op": "extract", "inputs": ["x"], "outputs": ["z", "r"]})
    assert [n.op_type for n in m.ir.graph] == ["Constant", "Mul", "Add", "Relu", "Tanh"]
    feeds = feeds_for(m, seed=2)
    r = np.maximum(feeds["x"] * W4 + 0.5, 0)
    got = outputs(m, feeds)
    np.testing.assert_allclose(got["r"], r, rtol=1e-6)
    np.testing.assert_allclose(got["z"], np.tanh(r), rtol=1e-6)


def test_loop_reading_an_outer_tensor_needs_it_listed_opset21() -> None:
    m = model(LOOP_MODEL)
    assert_refused(
        m, {"op": "extract", "inputs": ["h"], "outputs": ["s"]}, "the outputs still depend on graph input 'x'"
    )
    apply_and_check_undo(m, {"op": "extract", "inputs": ["h", "x"], "outputs": ["s"]})
    feeds = feeds_for(m, seed=0, batch=3)
    np.testing.assert_allclose(outputs(m, feeds)["s"], feeds["h"] + 3 * feeds["x"], rtol=1e-5, atol=1e-6)


def test_opset11_backbone() -> None:
    m = model(OPSET11_MODEL)
    apply_and_check_undo(m, {"op": "extract", "inputs": ["x"], "outputs": ["r"]})
    assert str(m.ir.graph.outputs[0].shape) == "[batch,2,6,6]"
    full = model(OPSET11_MODEL)
    full.apply({"op": "add_output", "tensor": "r"})
    feeds = feeds_for(m, seed=0, batch=2)
    np.testing.assert_array_equal(outputs(m, feeds)["r"], outputs(full, feeds)["r"])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"inputs": ["emb"], "outputs": ["logits", "feat"]}, "still depend on graph input 'image'"),
        ({"inputs": ["image", "emb"], "outputs": ["feat"]}, "input 'emb' does not feed any of the outputs"),
        ({"inputs": ["nope"], "outputs": ["emb"]}, "no tensor named 'nope'"),
        ({"inputs": ["image"], "outputs": ["ghost"]}, "no tensor named 'ghost'"),
        ({"inputs": [], "outputs": ["emb"]}, "at least one input and one output"),
        ({"inputs": ["image", "image"], "outputs": ["emb"]}, r"inputs lists \['image'\] more than once"),
        ({"inputs": ["cls_w", "drop"], "outputs": ["cls"]}, "'cls_w' is an initializer"),
    ],
)
def test_refusals_leave_the_model_unchanged(edit: dict[str, object], message: str) -> None:
    assert_refused(model(REID), {"op": "extract", **edit}, message)
