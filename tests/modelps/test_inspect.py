"""Inspection numbers on models whose costs are known by hand."""

from __future__ import annotations

import onnx_ir as ir
import pytest

from modelps.errors import ModelPSError
from modelps.inspect import parse_shape, summarize
from tests.models import CHAIN, IF_MODEL, model_from_text, with_conv_weights


def test_conv_net_costs() -> None:
    summary = summarize(with_conv_weights(), dims={"N": 1})
    conv_macs = 8 * 8 * 8 * (3 * 3 * 3)  # out N*C*H*W x (C_in * k * k)
    gemm_macs = 4 * 8
    assert summary.macs == conv_macs + gemm_macs
    conv_flops = 2 * conv_macs + 8 * 8 * 8  # + bias
    relu, pool = 8 * 8 * 8, 8 * 8 * 8
    gemm_flops = 2 * gemm_macs + 4
    assert summary.flops == conv_flops + relu + pool + gemm_flops
    assert summary.params == 8 * 27 + 8 + 32 + 4
    assert summary.param_bytes == 4 * summary.params
    assert summary.op_counts == {"Conv": 1, "Flatten": 1, "Gemm": 1, "GlobalAveragePool": 1, "Relu": 1}
    assert summary.nodes == 5
    assert summary.opset == {"": 13}
    assert summary.inputs == [{"name": "x", "dtype": "float", "shape": ["N", 3, 8, 8]}]


def test_symbolic_dims_scale_costs() -> None:
    one = summarize(with_conv_weights(), dims={"N": 1})
    four = summarize(with_conv_weights(), dims={"N": 4})
    assert four.macs == 4 * one.macs
    assert four.flops == 4 * one.flops


def test_per_node_table_sums_to_total() -> None:
    summary = summarize(model_from_text(CHAIN), dims={"N": 2})
    assert sum(c.flops for c in summary.per_node) == summary.flops == 2 * 4 * 4  # Relu, Sigmoid, Mul, Tanh
    assert summary.to_dict(per_node=True)["per_node"][0] == {"node": "n0", "op_type": "Relu", "macs": 0, "flops": 8}


def test_subgraphs_are_counted() -> None:
    assert summarize(model_from_text(IF_MODEL)).subgraphs == 2


# -- weights wherever they live, and FLOPs only for concrete shapes (foreign-model defects) ----------

WEIGHTS_EVERYWHERE = """
<ir_version: 8, opset_import: ["" : 17, "local" : 1]>
everywhere (float[N, 4] x, bool cond, int64 trips) => (float[N, 4] y, float[N, 4] z, float[N, 4] f) {
  w = Constant <value = float[4, 4] {1,0,0,0, 0,1,0,0, 0,0,1,0, 0,0,0,1}> ()
  s = Constant <value_floats = [0.5, 0.5, 0.5, 0.5]> ()
  m = MatMul(x, w)
  y = If(cond) <
    then_branch = then_g () => (float[N, 4] o) {
      k = Constant <value = float[4] {1, 2, 3, 4}> ()
      o = Mul(m, k)
    },
    else_branch = else_g () => (float[N, 4] o) { o = Mul(m, s) }
  >
  loop_cond = Constant <value = bool {1}> ()
  z = Loop(trips, loop_cond, m) <
    body = body_g (int64 i, bool c_in, float[N, 4] acc) => (bool c_out, float[N, 4] acc_out) {
      c_out = Identity(c_in)
      b = Constant <value = float[4] {0.1, 0.1, 0.1, 0.1}> ()
      acc_out = Add(acc, b)
    }
  >
  f = local.scale(m)
}
<domain: "local", opset_import: ["" : 17]>
scale (a) => (b) {
  c = Constant <value = float[4] {2, 2, 2, 2}> ()
  b = Mul(a, c)
}
"""


def test_weights_in_constants_subgraphs_and_functions_are_counted() -> None:
    summary = summarize(model_from_text(WEIGHTS_EVERYWHERE))
    # w 16, s 4, k 4 (If body), b 4 (Loop body), c 4 (function); the boolean loop_cond is no weight
    assert summary.params == 16 + 4 + 4 + 4 + 4
    assert summary.functions == 1 and summary.subgraphs == 3


def test_flops_unknown_for_symbolic_dims_not_guessed() -> None:
    summary = summarize(with_conv_weights())
    assert summary.flops is None and summary.macs is None
    assert "x[0]=N" in summary.flops_note and "--shape" in summary.flops_note
    given = summarize(with_conv_weights(), shapes={"x": (1, 3, 8, 8)})
    assert given.flops == summarize(with_conv_weights(), dims={"N": 1}).flops > 0


def test_minus_one_dims_never_give_negative_flops() -> None:
    proto = ir.to_proto(with_conv_weights())
    proto.graph.input[0].type.tensor_type.shape.dim[0].Clear()
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = -1
    model = ir.from_proto(proto)
    summary = summarize(model)
    assert summary.flops is None and "x[0]" in summary.flops_note
    assert all(c.flops is None or c.flops >= 0 for c in summary.per_node)
    fixed = summarize(model, shapes={"x": (2, 3, 8, 8)})
    assert fixed.flops == 2 * summarize(with_conv_weights(), dims={"N": 1}).flops


def test_shape_errors_are_specific() -> None:
    with pytest.raises(ModelPSError, match="no input named 'y'"):
        summarize(with_conv_weights(), shapes={"y": (1, 3, 8, 8)})
    with pytest.raises(ModelPSError, match="fixed dim 1 = 3"):
        summarize(with_conv_weights(), shapes={"x": (1, 4, 8, 8)})
    assert parse_shape("images:1x3x640x640") == ("images", (1, 3, 640, 640))
    assert parse_shape("a:b:1,2") == ("a:b", (1, 2))
    with pytest.raises(ModelPSError, match="NAME:1x3x640x640"):
        parse_shape("x=1x2")


def test_shape_inference_crash_leaves_flops_unknown() -> None:
    # found by bench/fuzz.py: a Loop missing its inputs made ONNX shape inference raise ValueError
    from tests.models import LOOP_MODEL

    proto = ir.to_proto(model_from_text(LOOP_MODEL))
    del proto.graph.node[1].input[1:]
    summary = summarize(ir.from_proto(proto), dims={"N": 1})
    assert summary.params == 0 and "node(s) of unknown output shape" not in summary.flops_note
