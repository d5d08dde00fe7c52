"""Inspection numbers on models whose costs are known by hand."""

from __future__ import annotations

from modelps.inspect import summarize
from tests.models import CHAIN, IF_MODEL, model_from_text, with_conv_weights


def test_conv_net_costs() -> None:
    summary = summarize(with_conv_weights())
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
    one = summarize(with_conv_weights())
    four = summarize(with_conv_weights(), dims={"N": 4})
    assert four.macs == 4 * one.macs
    assert four.flops == 4 * one.flops


def test_per_node_table_sums_to_total() -> None:
    summary = summarize(model_from_text(CHAIN), dims={"N": 2})
    assert sum(c.flops for c in summary.per_node) == summary.flops == 2 * 4 * 4  # Relu, Sigmoid, Mul, Tanh
    assert summary.to_dict(per_node=True)["per_node"][0] == {"node": "n0", "op_type": "Relu", "macs": 0, "flops": 8}


def test_subgraphs_are_counted() -> None:
    assert summarize(model_from_text(IF_MODEL)).subgraphs == 2
