"""Channel dependency groups and pruning surgery on ResNet, MobileFaceNet, SE, Concat and Flatten->Gemm graphs."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest

from modelps import runtime
from modelps.compress import analyze, prune
from modelps.compress.channels import Analysis, ChannelGroup, const_array
from modelps.compress.prune import PruneError
from tests.modelps.compress import nets

FAMILIES = {
    "resnet18": lambda: nets.resnet18(),
    "resnet50": lambda: nets.resnet50(blocks=(2, 2, 2, 2)),
    "mobilefacenet": lambda: nets.mobilefacenet(),
    "se-resnet18": lambda: nets.resnet18(se=True),
    "inception-concat": lambda: nets.inception(),
}


def _node(model: ir.Model, name: str) -> ir.Node:
    return next(n for n in model.graph if n.name == name)


def _ops(model: ir.Model, names: list[str]) -> list[str]:
    return [_node(model, n).op_type for n in names]


def test_resnet18_groups() -> None:
    model = nets.resnet18()
    analysis = analyze(model)
    residual = [g for g in analysis.prunable if g.residual]
    internal = [g for g in analysis.prunable if not g.residual]
    assert len(residual) == 4  # one residual stream per stage
    assert len(internal) == 8  # conv1 of each of the 8 basic blocks
    assert all(g.size == 8 * 2**i for i, g in enumerate(residual))
    # stage 1's stream: the stem conv and both blocks' second convs; stages 2-4: downsample + 2 convs
    assert len(residual[0].producers) == 3 and all(len(g.producers) == 3 for g in residual[1:])
    fixed = {g.name: g.reason for g in analysis.groups if not g.prunable}
    assert fixed["x"] == "it is the model input 'x'"
    assert "model output" in next(r for n, r in fixed.items() if n.startswith("gemm"))
    assert residual[-1].consumers[-1].startswith("gemm")  # Flatten -> Gemm reads the last stream


def test_resnet50_groups() -> None:
    model = nets.resnet50()
    analysis = analyze(model)
    internal = [g for g in analysis.prunable if not g.residual]
    residual = [g for g in analysis.prunable if g.residual]
    assert len(internal) == 2 * 16 + 1  # two per bottleneck, plus the stem (its own group before the maxpool)
    assert [g.size for g in residual] == [32, 64, 128, 256]
    assert [len(g.producers) for g in residual] == [4, 5, 7, 4]  # downsample + one conv3 per block


def test_mobilefacenet_depthwise_and_prelu_in_group() -> None:
    model = nets.mobilefacenet()
    analysis = analyze(model)
    depthwise = [n.name for n in model.graph if n.op_type == "Conv" and n.attributes["group"].as_int() > 1]
    for name in depthwise[:-1]:  # the last one (global depthwise) feeds the head
        owners = [g for g in analysis.groups if name in g.members]
        assert len(owners) == 1 and owners[0].prunable, name
        members = _ops(model, owners[0].members)
        assert "PRelu" in members and "BatchNormalization" in members
    sliced = {(p.node, p.input_index) for p in analysis.params}
    prelus = [n.name for n in model.graph if n.op_type == "PRelu"]
    assert all((name, 1) in sliced for name in prelus)


def test_se_block_expand_conv_ties_to_stream() -> None:
    model = nets.resnet18(se=True)
    analysis = analyze(model)
    stream = [g for g in analysis.prunable if g.residual][0]
    muls = [n for n in model.graph if n.op_type == "Mul"]
    assert any(m.name in stream.members for m in muls)
    # the SE expand convs (1x1, output = stream width, input = gap->reduce) are producers of the stream
    assert sum(1 for p in stream.producers if _node(model, p).inputs[1].const_value.shape[2] == 1) >= 2


def test_concat_segments_and_flatten_gemm_expansion() -> None:
    model = nets.inception()
    analysis = analyze(model)
    a, b = analysis.group("conv4"), analysis.group("conv10")
    assert a.prunable and b.prunable and a.consumers == b.consumers == ["conv14"]
    head = analysis.group("conv17")
    assert head.consumers == ["gemm21"]
    keep = {"conv4": np.array([1, 3, 5]), "conv10": np.arange(0, 10, 2), "conv17": np.array([0, 7])}
    pruned = prune(model, keep, analysis)
    w14 = const_array(_node(pruned, "conv14").inputs[1])
    fc = const_array(_node(pruned, "gemm21").inputs[1])
    assert w14.shape[1] == 3 + 5
    assert fc.shape == (5, 2 * 16)  # 2 channels x 4x4 positions
    original_fc = const_array(_node(model, "gemm21").inputs[1])
    np.testing.assert_array_equal(fc[:, 16:], original_fc[:, 7 * 16 : 8 * 16])
    w14_orig = const_array(_node(model, "conv14").inputs[1])
    np.testing.assert_array_equal(w14[:, 3:], w14_orig[:, 6 + np.arange(0, 10, 2)])


def _zero(model: ir.Model, analysis: Analysis, group: ChannelGroup, idx: np.ndarray) -> None:
    """Make channels ``idx`` of ``group`` exactly zero everywhere (weights, biases, BN shifts)."""
    for param in analysis.params:
        if len(param.layout) != 1 or analysis.space_group[param.layout[0][0]] != group.id:
            continue
        node = _node(model, param.node)
        if node.op_type == "PRelu" or (node.op_type == "BatchNormalization" and param.input_index not in (2, 3)):
            continue
        if (
            node.op_type == "Conv"
            and param.node not in group.producers
            and param.input_index == 1
            and node.attributes["group"].as_int() == 1
        ):
            continue
        value = node.inputs[param.input_index]
        array = const_array(value).copy()
        index = [slice(None)] * array.ndim
        index[param.axis] = idx
        array[tuple(index)] = 0
        value.const_value = ir.tensor(array, name=value.name)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_pruning_all_zero_channels_leaves_outputs_unchanged(family: str) -> None:
    model = FAMILIES[family]()
    analysis = analyze(model)
    rng = np.random.default_rng(1)
    keep = {}
    for group in analysis.prunable:
        drop = np.sort(rng.choice(group.size, size=max(1, group.size // 3), replace=False))
        _zero(model, analysis, group, drop)
        keep[group.name] = np.setdiff1d(np.arange(group.size), drop)
    feeds = runtime.make_inputs(model, seed=3)
    before = runtime.run(model, feeds)["y"]
    pruned = prune(model, keep, analysis)
    after = runtime.run(pruned, feeds)["y"]
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)
    weights = sum(v.const_value.size for v in pruned.graph.initializers.values())
    assert weights < sum(v.const_value.size for v in model.graph.initializers.values())


def test_prune_keeping_everything_is_identity_and_input_untouched() -> None:
    model = nets.resnet18()
    analysis = analyze(model)
    w_before = const_array(_node(model, "conv1").inputs[1]).copy()
    pruned = prune(model, {g.name: np.arange(g.size) for g in analysis.prunable}, analysis)
    feeds = runtime.make_inputs(model, seed=0)
    np.testing.assert_array_equal(runtime.run(pruned, feeds)["y"], runtime.run(model, feeds)["y"])
    pruned2 = prune(model, {"conv1": np.array([0, 1])}, analysis)
    assert const_array(_node(pruned2, "conv1").inputs[1]).shape[0] == 2
    np.testing.assert_array_equal(const_array(_node(model, "conv1").inputs[1]), w_before)


def test_prune_refuses_bad_requests() -> None:
    model = nets.resnet18()
    analysis = analyze(model)
    with pytest.raises(PruneError, match="no channel group named 'nope'"):
        prune(model, {"nope": np.array([0])}, analysis)
    with pytest.raises(PruneError, match="group 'x' cannot be pruned: it is the model input 'x'"):
        prune(model, {"x": np.array([0])}, analysis)
    with pytest.raises(PruneError, match="at least one channel must remain"):
        prune(model, {"conv1": np.array([], dtype=np.int64)}, analysis)
    with pytest.raises(PruneError, match="sorted, unique and within 0..7"):
        prune(model, {"conv1": np.array([3, 9])}, analysis)


def test_grouped_conv_is_fixed_with_reason() -> None:
    net = nets.Net((1, 4, 8, 8))
    y = net.conv(net.x, 8, k=1)
    y = net.conv(y, 8, k=3, group=2)
    model = net.build(net.conv(y, 4, k=1))
    analysis = analyze(model)
    first = analysis.group("conv1")
    assert not first.prunable and "grouped convolution 'conv2' (group=2)" in first.reason
