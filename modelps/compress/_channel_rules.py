"""The op rules of the channel analysis: how each ONNX op moves, ties or blocks channel spaces.

A rule is a method ``op_<OpType>`` (or one of the families :data:`UNARY_PASS`, :data:`BINARY_TIE`,
:data:`REDUCE`); an op without a rule, or whose inputs a rule cannot read, is *opaque*: the channels
it touches are fixed with the reason. Add an op by adding its rule here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx_ir as ir

from modelps.compress._channel_spaces import ChannelSpaces
from modelps.compress.groups import Analysis, AttrUpdate, ConsumerUse, Layout, ParamSlice, ShapeUpdate
from modelps.compress.values import const_array

__all__ = ["BINARY_TIE", "REDUCE", "UNARY_PASS", "ChannelAnalyzer"]

UNARY_PASS = frozenset(
    {
        "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish",
        "Softplus", "Softsign", "Identity", "Dropout", "Neg", "Abs", "Sqrt", "Exp", "Log", "Erf",
        "Gelu", "Mish", "ThresholdedRelu", "Floor", "Ceil", "Round", "Reciprocal", "Sign", "Sin",
        "Cos", "Clip", "Cast", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
        "LpPool", "GlobalLpPool",
    }
)  # fmt: skip
BINARY_TIE = frozenset({"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "PRelu", "Pow"})
REDUCE = frozenset({"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2", "ReduceProd"})


class ChannelAnalyzer(ChannelSpaces):
    """Walks a graph once in topological order, applying each node's op rule."""

    def run(self) -> Analysis:
        """Analyse the graph: model inputs and outputs are fixed, every node goes through its rule."""
        for value in self.graph.inputs:
            if value.is_initializer():
                continue
            self.fresh_output(value, f"it is the model input {value.name!r}")
        for node in self.graph:
            handler = getattr(self, f"op_{node.op_type}", None)
            if node.domain not in ("", "ai.onnx"):
                handler = None
            if handler is None:
                if node.op_type in UNARY_PASS:
                    handler = self.op_unary
                elif node.op_type in BINARY_TIE:
                    handler = self.op_binary
                elif node.op_type in REDUCE:
                    handler = self.op_reduce
            if handler is None:
                self.opaque(node)
            else:
                handler(node)
        for value in self.graph.outputs:
            self.block(self.layout(value), f"it is the model output {value.name!r}")
        return self.result()

    # -- op rules ----------------------------------------------------------------------------
    def op_unary(self, node: ir.Node) -> None:
        layout = self.layout(node.inputs[0])
        if layout is None:
            return self.opaque(node)
        self.touch(layout, node.name or "")
        self.set_layout(node.outputs[0], layout)
        return None

    def op_BatchNormalization(self, node: ir.Node) -> None:
        layout = self.layout(node.inputs[0])
        if layout is None or len(node.inputs) < 5 or any(const_array(v) is None for v in node.inputs[1:5]):
            return self.opaque(node)
        for index in range(1, 5):
            self.params.append(ParamSlice(node.name or "", index, 0, layout))
        self.touch(layout, node.name or "")
        self.set_layout(node.outputs[0], layout)
        return None

    def op_InstanceNormalization(self, node: ir.Node) -> None:
        layout = self.layout(node.inputs[0])
        if layout is None or any(const_array(v) is None for v in node.inputs[1:3]):
            return self.opaque(node)
        for index in (1, 2):
            self.params.append(ParamSlice(node.name or "", index, 0, layout))
        self.touch(layout, node.name or "")
        self.set_layout(node.outputs[0], layout)
        return None

    def op_Conv(self, node: ir.Node) -> None:
        x, w = node.inputs[0], node.inputs[1]
        weight = const_array(w)
        layout = self.layout(x)
        bias_ok = len(node.inputs) < 3 or node.inputs[2] is None or const_array(node.inputs[2]) is not None
        if weight is None or layout is None or not bias_ok:
            return self.opaque(node)
        group = _int_attr(node, "group", 1)
        name = node.name or ""
        cin = self.layout_len(layout)
        if group == 1 and weight.shape[1] == cin:
            return self.produce(node, layout, in_axis=1, out_axis=0, channels=weight.shape[0], bias_axis=0)
        if group == cin and weight.shape[0] == cin and weight.shape[1] == 1:  # depthwise
            self.touch(layout, name)
            self.params.append(ParamSlice(name, 1, 0, layout))
            if _has_bias(node):
                self.params.append(ParamSlice(name, 2, 0, layout))
            self.attr_updates.append(AttrUpdate(name, "group", layout))
            self.set_layout(node.outputs[0], layout)
            return None
        return self.opaque(node, f"it feeds the grouped convolution {name!r} (group={group})")

    def op_ConvTranspose(self, node: ir.Node) -> None:
        weight = const_array(node.inputs[1])
        layout = self.layout(node.inputs[0])
        if (
            weight is None
            or layout is None
            or _int_attr(node, "group", 1) != 1
            or "output_shape" in node.attributes
            or weight.shape[0] != self.layout_len(layout)
        ):
            return self.opaque(node)
        return self.produce(node, layout, in_axis=0, out_axis=1, channels=weight.shape[1], bias_axis=0)

    def op_Gemm(self, node: ir.Node) -> None:
        weight = const_array(node.inputs[1])
        layout = self.layout(node.inputs[0])
        shape = self.shape(node.inputs[0])
        if weight is None or layout is None or shape is None or len(shape) != 2 or _int_attr(node, "transA", 0):
            return self.opaque(node)
        trans_b = _int_attr(node, "transB", 0)
        k_axis, n_axis = (1, 0) if trans_b else (0, 1)
        if weight.shape[k_axis] != self.layout_len(layout):
            return self.opaque(node)
        bias = node.inputs[2] if len(node.inputs) > 2 else None
        bias_arr = const_array(bias)
        if bias is not None and bias_arr is None:
            return self.opaque(node)
        n = weight.shape[n_axis]
        bias_axis = None
        if bias_arr is not None and bias_arr.ndim >= 1 and bias_arr.shape[-1] == n and n > 1:  # per output channel
            bias_axis = bias_arr.ndim - 1
        return self.produce(node, layout, in_axis=k_axis, out_axis=n_axis, channels=n, bias_axis=bias_axis)

    def op_MatMul(self, node: ir.Node) -> None:
        weight = const_array(node.inputs[1])
        layout = self.layout(node.inputs[0])
        shape = self.shape(node.inputs[0])
        if weight is None or weight.ndim != 2 or layout is None or shape is None or len(shape) != 2:
            return self.opaque(node)
        if weight.shape[0] != self.layout_len(layout):
            return self.opaque(node)
        return self.produce(node, layout, in_axis=0, out_axis=1, channels=weight.shape[1], bias_axis=None)

    def produce(
        self, node: ir.Node, layout: Layout, *, in_axis: int, out_axis: int, channels: int, bias_axis: int | None
    ) -> None:
        """A layer that mixes its input channels into ``channels`` new ones: the start of a new channel space.

        Its weight (input 1) is read along ``in_axis`` (the input ``layout``) and written along
        ``out_axis``; a bias (input 2, if any) is sliced along ``bias_axis`` (``None``: not per channel).
        """
        name = node.name or ""
        self.consumers.append(ConsumerUse(name, node.op_type, 1, in_axis, layout))
        self.touch(layout, name)
        out: Layout = ((self.new_space(channels, name, producer=name), 1),)
        self.params.append(ParamSlice(name, 1, out_axis, out))
        if bias_axis is not None and _has_bias(node):
            self.params.append(ParamSlice(name, 2, bias_axis, out))
        self.set_layout(node.outputs[0], out)
        return None

    def op_binary(self, node: ir.Node) -> None:
        out_shape = self.shape(node.outputs[0])
        if out_shape is None or len(out_shape) < 2 or not isinstance(out_shape[1], int):
            return self.opaque(node)
        rank, channels = len(out_shape), out_shape[1]
        tied: list[Layout] = []
        const_axes: list[tuple[int, int]] = []
        name = node.name or ""
        for index, value in enumerate(node.inputs):
            if value is None:
                continue
            shape = self.shape(value)
            if shape is None:
                return self.opaque(node)
            axis = 1 - (rank - len(shape))
            along = shape[axis] if 0 <= axis < len(shape) else 1
            if const_array(value) is not None:
                if along not in (1, None) and channels > 1:
                    const_axes.append((index, axis))
                continue
            if along == 1 and channels != 1:
                continue  # broadcast along channels: no tie
            layout = self.layout(value)
            if layout is None or len(shape) != rank:
                return self.opaque(node)
            tied.append(layout)
        if not tied:
            return self.opaque(node)
        first = tied[0]
        for other in tied[1:]:
            if not self.tie(first, other):
                return self.opaque(node, f"node {name!r} combines tensors whose channel layouts differ")
        for index, axis in const_axes:
            self.params.append(ParamSlice(name, index, axis, first))
        for layout in tied:
            self.touch(layout, name)
        self.set_layout(node.outputs[0], first)
        return None

    def op_Concat(self, node: ir.Node) -> None:
        out_shape = self.shape(node.outputs[0])
        if out_shape is None:
            return self.opaque(node)
        axis = _int_attr(node, "axis", 0) % len(out_shape)
        layouts = [self.layout(v) for v in node.inputs]
        if any(lay is None for lay in layouts):
            return self.opaque(node)
        name = node.name or ""
        if axis == 1:
            merged: Layout = tuple(seg for lay in layouts for seg in lay or ())
            for lay in layouts:
                self.touch(lay, name)
            self.set_layout(node.outputs[0], merged)
            return None
        first = layouts[0]
        assert first is not None
        for other in layouts[1:]:
            if other is None or not self.tie(first, other):
                return self.opaque(node)
        self.touch(first, name)
        self.set_layout(node.outputs[0], first)
        return None

    def op_Flatten(self, node: ir.Node) -> None:
        shape = self.shape(node.inputs[0])
        layout = self.layout(node.inputs[0])
        axis = _int_attr(node, "axis", 1)
        if layout is None or shape is None or axis != 1 or any(not isinstance(d, int) for d in shape[2:]):
            return self.opaque(node)
        spatial = _prod(shape[2:])
        self.touch(layout, node.name or "")
        self.set_layout(node.outputs[0], tuple((s, r * spatial) for s, r in layout))
        return None

    def op_Reshape(self, node: ir.Node) -> None:
        src_shape = self.shape(node.inputs[0])
        dst_shape = self.shape(node.outputs[0])
        layout = self.layout(node.inputs[0])
        target = const_array(node.inputs[1])
        if src_shape is None or dst_shape is None or layout is None or target is None:
            return self.opaque(node)
        if not all(isinstance(d, int) for d in (*src_shape, *dst_shape)):
            return self.opaque(node)
        src = [int(d) for d in src_shape if isinstance(d, int)]
        dst = [int(d) for d in dst_shape if isinstance(d, int)]
        if len(src) < 2 or len(dst) < 2 or src[0] != dst[0]:
            return self.opaque(node)
        name = node.name or ""
        rest_in = _prod(src[2:])
        if len(dst) == 2 and dst[1] == src[1] * rest_in:
            new = tuple((s, r * rest_in) for s, r in layout)
        elif dst[1] == src[1] and _prod(dst[2:]) == rest_in:
            new = layout
        else:
            return self.opaque(node)
        if target.ndim != 1 or len(target) != len(dst):
            return self.opaque(node)
        if target[1] > 0:
            self.shape_updates.append(ShapeUpdate(name, 1, 1, new))
        self.touch(layout, name)
        self.set_layout(node.outputs[0], new)
        return None

    def _axes(self, node: ir.Node, rank: int) -> list[int] | None:
        if "axes" in node.attributes:
            axes = list(node.attributes["axes"].as_ints())
        elif len(node.inputs) > 1 and node.inputs[1] is not None:
            arr = const_array(node.inputs[1])
            if arr is None:
                return None
            axes = [int(a) for a in arr.reshape(-1)]
        else:
            return None
        return [a % rank for a in axes]

    def _keep_channels(self, node: ir.Node, shape: tuple[int | str | None, ...] | None, *, need_axes: bool) -> None:
        """Pass the channel layout through an op that only touches spatial axes (>= 2)."""
        layout = self.layout(node.inputs[0])
        axes = self._axes(node, len(shape)) if shape else None
        if layout is None or axes is None or (need_axes and not axes) or min(axes, default=0) < 2:
            return self.opaque(node)
        self.touch(layout, node.name or "")
        self.set_layout(node.outputs[0], layout)
        return None

    def op_Squeeze(self, node: ir.Node) -> None:
        return self._keep_channels(node, self.shape(node.inputs[0]), need_axes=False)

    def op_Unsqueeze(self, node: ir.Node) -> None:
        return self._keep_channels(node, self.shape(node.outputs[0]), need_axes=False)

    def op_reduce(self, node: ir.Node) -> None:
        return self._keep_channels(node, self.shape(node.inputs[0]), need_axes=True)

    def op_Softmax(self, node: ir.Node) -> None:
        shape = self.shape(node.inputs[0])
        if shape is None or _int_attr(node, "axis", -1) % len(shape) == 1:
            return self.opaque(node)
        return self.op_unary(node)

    op_LogSoftmax = op_Softmax

    def op_Pad(self, node: ir.Node) -> None:
        pads = const_array(node.inputs[1]) if len(node.inputs) > 1 else None
        if pads is None and "pads" in node.attributes:
            pads = np.array(node.attributes["pads"].as_ints())
        if pads is None or len(node.inputs) > 3:
            return self.opaque(node)
        rank = len(pads) // 2
        if pads[0] or pads[1] or pads[rank] or pads[rank + 1]:
            return self.opaque(node)
        return self.op_unary(node)

    def op_Resize(self, node: ir.Node) -> None:
        layout = self.layout(node.inputs[0])
        name = node.name or ""
        scales = const_array(node.inputs[2]) if len(node.inputs) > 2 else None
        sizes = const_array(node.inputs[3]) if len(node.inputs) > 3 else None
        if layout is None or len(node.inputs) > 4 or "axes" in node.attributes:
            return self.opaque(node)
        if sizes is not None and sizes.size >= 2:
            self.shape_updates.append(ShapeUpdate(name, 3, 1, layout))
        elif scales is None or scales.size < 2 or scales[1] != 1:
            return self.opaque(node)
        self.touch(layout, name)
        self.set_layout(node.outputs[0], layout)
        return None

    def op_Upsample(self, node: ir.Node) -> None:
        scales = const_array(node.inputs[1]) if len(node.inputs) > 1 else None
        if scales is None or scales.size < 2 or scales[1] != 1:
            return self.opaque(node)
        return self.op_unary(node)


def _prod(dims: Sequence[int | str | None]) -> int:
    """Product of known integer dims (1 for none)."""
    result = 1
    for d in dims:
        result *= int(d) if isinstance(d, int) else 1
    return result


def _has_bias(node: ir.Node) -> bool:
    return len(node.inputs) > 2 and node.inputs[2] is not None


def _int_attr(node: ir.Node, name: str, default: int) -> int:
    attr = node.attributes.get(name)
    return default if attr is None else int(attr.as_int())
