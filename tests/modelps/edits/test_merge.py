"""merge: feed this model's outputs into another model's inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx_ir as ir
import pytest

from modelps import EditError, Recipe, file_sha256, save
from tests.modelps.edits.edit_helpers import (
    IF_MODEL,
    LOOP_MODEL,
    apply_and_check_undo,
    assert_refused,
    feeds_for,
    model,
    outputs,
    replay,
    tensor_text,
)

HEAD_W = np.arange(8, dtype=np.float32).reshape(4, 2) / 8
HEAD = f"""<ir_version: 7, opset_import: ["" : 13]>
head (float[M,4] e, float[M,2] bias) => (float[M,2] p) <{tensor_text("float", "w", HEAD_W)}> {{
  mm = MatMul(e, w)
  t = Add(mm, bias)
  p = Softmax <axis = -1> (t)
}}"""

SCALE = """<ir_version: 10, opset_import: ["" : 21]>
scale (float[B,4] v) => (float[B,4] out) {
  two = Constant <value = float {2.0}> ()
  out = Mul(v, two)
}"""


def _softmax(t: np.ndarray) -> np.ndarray:
    e = np.exp(t - t.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    save(ir.from_onnx_text(HEAD), tmp_path / "head.onnx")
    save(ir.from_onnx_text(SCALE), tmp_path / "scale.onnx")
    return tmp_path


def test_head_after_if_model_with_opset_upgrade(in_tmp: Path) -> None:
    m = model(IF_MODEL)
    edit = {"op": "merge", "model": "head.onnx", "connections": {"z": "e"}, "prefix": "head/"}
    apply_and_check_undo(m, edit)
    assert m.recipe.to_dict()["edits"][0]["sha256"] == file_sha256("head.onnx")
    assert m.ir.opset_imports[""] == 17
    assert [v.name for v in m.ir.graph.inputs] == ["x", "c", "head/bias"]
    assert [v.name for v in m.ir.graph.outputs] == ["y", "head/p"]
    feeds = feeds_for(model(IF_MODEL), seed=1, batch=3)
    z = outputs(model(IF_MODEL), feeds)["z"]
    feeds["head/bias"] = np.ones((3, 2), np.float32)
    got = outputs(m, feeds)
    np.testing.assert_allclose(got["head/p"], _softmax(z @ HEAD_W + 1), rtol=1e-5, atol=1e-6)
    replay(IF_MODEL, [e.to_dict() for e in m.history], m.to_bytes())


def test_keep_outputs_and_loop_model_opset21(in_tmp: Path) -> None:
    m = model(LOOP_MODEL)
    edit = {"op": "merge", "model": "scale.onnx", "connections": {"s": "v"}, "prefix": "s2/", "keep_outputs": True}
    apply_and_check_undo(m, edit)
    assert [v.name for v in m.ir.graph.outputs] == ["y", "s", "s2/out"]
    feeds = feeds_for(m, seed=0, batch=2)
    got = outputs(m, feeds)
    np.testing.assert_allclose(got["s2/out"], 2 * got["s"], rtol=1e-6)
    np.testing.assert_allclose(got["s"], np.maximum(feeds["x"], 0) + 3 * feeds["x"], rtol=1e-5, atol=1e-6)


def test_merging_a_model_with_itself_needs_a_prefix_opset11(in_tmp: Path) -> None:
    text = """<ir_version: 6, opset_import: ["" : 11]>
    g (float[N,4] a) => (float[N,4] b) { b = Sigmoid(a) }"""
    save(ir.from_onnx_text(text), in_tmp / "same.onnx")
    m = model(text)
    assert_refused(m, {"op": "merge", "model": "same.onnx", "connections": {"b": "a"}}, "names 'a', 'b'.* set a prefix")
    apply_and_check_undo(m, {"op": "merge", "model": "same.onnx", "connections": {"b": "a"}, "prefix": "2/"})
    feeds = feeds_for(m, seed=0)
    sig = 1 / (1 + np.exp(-feeds["a"]))
    np.testing.assert_allclose(outputs(m, feeds)["2/b"], 1 / (1 + np.exp(-sig)), rtol=1e-6)


def test_replay_refuses_a_changed_file(in_tmp: Path) -> None:
    m = model(IF_MODEL)
    m.apply({"op": "merge", "model": "head.onnx", "connections": {"z": "e"}, "prefix": "h/"})
    recipe = Recipe.from_json(m.recipe.to_json())
    save(ir.from_onnx_text(HEAD.replace("Softmax", "LogSoftmax")), in_tmp / "head.onnx")
    fresh = model(IF_MODEL)
    before = fresh.to_bytes()
    with pytest.raises(EditError, match="'head.onnx' has changed"):
        fresh.apply_recipe(recipe)
    assert fresh.to_bytes() == before


def test_missing_file_is_refused(in_tmp: Path) -> None:
    with pytest.raises(EditError, match="cannot read 'absent.onnx'"):
        model(IF_MODEL).apply({"op": "merge", "model": "absent.onnx", "connections": {"z": "e"}})


@pytest.mark.parametrize(
    ("text", "edit", "message"),
    [
        (IF_MODEL, {"connections": {}}, "connections is empty"),
        (IF_MODEL, {"connections": {"zz": "e"}}, r"this model has no output 'zz'; outputs are \['y', 'z'\]"),
        (IF_MODEL, {"connections": {"z": "q"}}, r"the other model has no input 'q'; inputs are \['e', 'bias'\]"),
        (IF_MODEL, {"connections": {"z": "w"}}, "the other model has no input 'w'"),
        (IF_MODEL, {"connections": {"z": "bias"}}, r"output 'z' has shape \['N', 4\] but input 'bias' .* \['M', 2\]"),
        (
            IF_MODEL.replace("float[N,4] z", "double[N,4] z").replace("z = Tanh(r)", "z = Cast <to = 11> (r)"),
            {"connections": {"z": "e"}},
            "output 'z' is DOUBLE but input 'e' of the other model is FLOAT",
        ),
    ],
)
def test_refusals_leave_the_model_unchanged(in_tmp: Path, text: str, edit: dict[str, object], message: str) -> None:
    assert_refused(model(text), {"op": "merge", "model": "head.onnx", "prefix": "h/", **edit}, message)


def test_this_model_is_upgraded_to_the_other_models_opset(in_tmp: Path) -> None:
    m = model(IF_MODEL)  # opset 17; scale.onnx is opset 21
    apply_and_check_undo(m, {"op": "merge", "model": "scale.onnx", "connections": {"z": "v"}, "prefix": "s/"})
    assert m.ir.opset_imports[""] == 21 and m.ir.ir_version == 10
    assert any(n.op_type == "If" for n in m.ir.graph)
    feeds = feeds_for(model(IF_MODEL), seed=0, batch=2)
    z = outputs(model(IF_MODEL), feeds)["z"]
    np.testing.assert_allclose(outputs(m, feeds)["s/out"], 2 * z, rtol=1e-6)


def test_failed_upgrade_is_refused_with_the_converters_reason(in_tmp: Path) -> None:
    text = """<ir_version: 3, opset_import: ["" : 1]>
    g (float[N,4] x) => (float[N,4] z) { z = Crop(x) }"""  # an experimental op of opset 1, gone since
    assert_refused(
        model(text, validation="none"),
        {"op": "merge", "model": "head.onnx", "connections": {"z": "e"}, "prefix": "h/"},
        "cannot upgrade this model from opset 1 to 13: .*no registered schema",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a model at all", "not a valid ONNX model"), (b"", "the file is empty")],
    ids=["garbage", "empty"],
)
def test_unreadable_other_model_is_refused(in_tmp: Path, content: bytes, message: str) -> None:
    (in_tmp / "bad.onnx").write_bytes(content)
    edit = {"op": "merge", "model": "bad.onnx", "connections": {"z": "e"}, "prefix": "h/"}
    assert_refused(model(IF_MODEL), edit, f"cannot use the other model: .*{message}")


def test_truncated_other_model_is_refused(in_tmp: Path) -> None:
    data = (in_tmp / "head.onnx").read_bytes()
    (in_tmp / "cut.onnx").write_bytes(data[: len(data) // 2])
    edit = {"op": "merge", "model": "cut.onnx", "connections": {"z": "e"}, "prefix": "h/"}
    assert_refused(model(IF_MODEL), edit, "cannot use the other model: ")


def test_other_model_with_a_loop_body_gets_prefixed_everywhere(in_tmp: Path) -> None:
    save(ir.from_onnx_text(LOOP_MODEL), in_tmp / "loop.onnx")
    m = model(SCALE)
    apply_and_check_undo(m, {"op": "merge", "model": "loop.onnx", "connections": {"out": "x"}, "prefix": "L/"})
    loop = next(n for n in m.ir.graph if n.op_type == "Loop")
    body = loop.attributes["body"].as_graph()
    assert [v.name for v in body.inputs] == ["L/i", "L/cin", "L/acc"]
    assert [n.inputs[1].name for n in body if n.op_type == "Add"] == ["out"]
    feeds = feeds_for(m, seed=0, batch=2)
    got = outputs(m, feeds)
    v = 2 * feeds["v"]
    np.testing.assert_allclose(got["L/s"], np.maximum(v, 0) + 3 * v, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["L/y"], 1 / (1 + np.exp(-np.maximum(v, 0))), rtol=1e-6)
