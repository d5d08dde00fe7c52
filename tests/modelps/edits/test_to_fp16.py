"""to_fp16: float16 weights and activations with float32 at the boundary."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest

from tests.modelps.edits.edit_helpers import (
    SURVIVORS,
    apply_and_check_undo,
    assert_refused,
    feeds_for,
    model,
    outputs,
    replay,
    run_both,
    tensor_text,
)

GROUP_W = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 1, 2, 2)
RICH = f"""<ir_version: 8, opset_import: ["" : 17]>
g (float[N,2,4,4] x, int64[N] ids) => (float[N,2,8,8] y, float[N] s, int64[4] shp)
  <{tensor_text("float", "w", GROUP_W)}, float[4] scales = {{1.0, 1.0, 2.0, 2.0}}> {{
  c = Conv <group = 2, pads = [0,1,0,1]> (x, w)
  c2 = Conv <group = 2, pads = [1,0,1,0]> (c, w)
  half = Constant <value = float {{0.5}}> ()
  m = Mul(c2, half)
  r = Resize <mode = "nearest"> (m, , scales)
  shp = Shape(r)
  fid = Cast <to = 1> (ids)
  z = ConstantOfShape <value = float[1] {{0.25}}> (shp)
  y0 = Add(r, z)
  y = Sigmoid(y0)
  red = ReduceMean <axes = [1,2,3], keepdims = 0> (y)
  s = Add(red, fid)
}}"""


def _node(m: object, op_type: str) -> ir.Node:
    return next(n for n in m.ir.graph if n.op_type == op_type)  # type: ignore[attr-defined]


def test_weights_and_activations_become_float16_with_float32_interface() -> None:
    m = model(RICH)
    apply_and_check_undo(m, {"op": "to_fp16"})
    graph = m.ir.graph
    assert [v.dtype for v in graph.inputs] == [ir.DataType.FLOAT, ir.DataType.INT64]
    assert [(v.name, v.dtype) for v in graph.outputs] == [
        ("y", ir.DataType.FLOAT),
        ("s", ir.DataType.FLOAT),
        ("shp", ir.DataType.INT64),
    ]
    assert graph.initializers["w"].const_value.dtype == ir.DataType.FLOAT16
    assert graph.initializers["w"].const_value.nbytes == GROUP_W.nbytes // 2
    assert graph.initializers["scales"].const_value.dtype == ir.DataType.FLOAT  # Resize scales stay float32
    assert _node(m, "Constant").attributes["value"].as_tensor().dtype == ir.DataType.FLOAT16
    assert _node(m, "ConstantOfShape").attributes["value"].as_tensor().dtype == ir.DataType.FLOAT16
    fid = next(n for n in graph if n.name == "n6")
    assert fid.attributes["to"].value == ir.DataType.FLOAT16.value
    before, after = run_both(RICH, m, seed=1)
    np.testing.assert_allclose(after["y"], before["y"], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(after["s"], before["s"], rtol=2e-3, atol=2e-3)
    np.testing.assert_array_equal(after["shp"], before["shp"])
    replay(RICH, [e.to_dict() for e in m.history], m.to_bytes())


def test_block_ops_stay_float32_and_io_can_become_float16() -> None:
    m = model(RICH)
    apply_and_check_undo(m, {"op": "to_fp16", "block_ops": ["Resize", "Sigmoid"], "keep_io_types": False})
    graph = m.ir.graph
    assert graph.inputs[0].dtype == ir.DataType.FLOAT16
    assert [v.dtype for v in graph.outputs] == [ir.DataType.FLOAT, ir.DataType.FLOAT16, ir.DataType.INT64]
    assert _node(m, "Resize").inputs[0].dtype == ir.DataType.FLOAT
    assert _node(m, "Sigmoid").outputs[0].dtype == ir.DataType.FLOAT
    casts = sorted(n.name for n in graph if n.op_type == "Cast" and n.name.startswith("Cast_"))
    assert casts == ["Cast_m_to_fp32", "Cast_r_to_fp16", "Cast_y0_to_fp32", "Cast_y_to_fp16"]
    feeds = feeds_for(model(RICH), seed=2)
    expected = outputs(model(RICH), feeds)
    feeds["x"] = feeds["x"].astype(np.float16)
    got = outputs(m, feeds)
    np.testing.assert_allclose(got["y"], expected["y"], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(got["s"].astype(np.float32), expected["s"], rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name", sorted(SURVIVORS))
def test_subgraph_models_survive_with_float32_bodies(name: str) -> None:
    text = SURVIVORS[name]
    m = model(text)
    apply_and_check_undo(m, {"op": "to_fp16"})
    for node in m.ir.graph:
        if node.op_type in ("If", "Loop"):
            assert all(v.dtype != ir.DataType.FLOAT16 for v in node.inputs if v is not None)
    before, after = run_both(text, m, seed=4)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], rtol=5e-3, atol=5e-3)
    replay(text, [e.to_dict() for e in m.history], m.to_bytes())


def test_refuses_a_model_without_float32() -> None:
    text = """<ir_version: 8, opset_import: ["" : 17]>
    g (int64[N] x) => (int64[N] y) { y = Neg(x) }"""
    assert_refused(model(text), {"op": "to_fp16"}, "no float32 tensor that can become float16")


def test_custom_domain_nodes_stay_float32() -> None:
    text = """<ir_version: 8, opset_import: ["" : 17, "custom.x" : 1]>
    g (float[N] x) => (float[N] y) { a = Relu(x)  b = custom.x.Foo(a)  y = Sigmoid(b) }"""
    m = model(text, validation="structure")
    m.apply({"op": "to_fp16"})
    foo = _node(m, "Foo")
    assert foo.inputs[0].dtype == ir.DataType.FLOAT
    assert _node(m, "Sigmoid").outputs[0].dtype == ir.DataType.FLOAT  # reads Foo's output, of unknown type
    assert _node(m, "Relu").outputs[0].dtype == ir.DataType.FLOAT16


def test_weight_exposed_as_an_output_keeps_its_type() -> None:
    text = """<ir_version: 8, opset_import: ["" : 17]>
    g (float[N,2] x) => (float[N,2] y, float[2] w) <float[2] w = {1.5, -2.0}> { y = Mul(x, w) }"""
    m = model(text)
    apply_and_check_undo(m, {"op": "to_fp16"})
    assert m.ir.graph.initializers["w"].const_value.dtype == ir.DataType.FLOAT
    assert [v.name for v in m.ir.graph.outputs] == ["y", "w"]
    before, after = run_both(text, m)
    np.testing.assert_array_equal(before["w"], after["w"])
    np.testing.assert_allclose(after["y"], before["y"], rtol=1e-3)


def test_converting_twice_is_refused() -> None:
    m = model(RICH)
    m.apply({"op": "to_fp16"})
    assert_refused(m, {"op": "to_fp16"}, "no float32 tensor that can become float16")
