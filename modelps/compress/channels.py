"""Channel dependency analysis on an ONNX graph: which channels must be pruned together.

Every tensor of rank >= 2 carries a *layout*: the list of channel spaces its axis 1 is made of.
A channel space is created by a producer (``Conv``, ``ConvTranspose``, ``Gemm``, ``MatMul`` with a
constant weight); pass-through ops (``BatchNormalization``, activations including ``PReLU``,
pooling, depthwise convolutions, ``Flatten``, ...) copy their input's layout; element-wise ops with
two tensor inputs (a residual ``Add``, the ``Mul`` of a squeeze-excitation block) tie the spaces of
both inputs into one *group*; ``Concat`` on the channel axis concatenates layouts; ``Flatten`` and
``Reshape`` into a ``Gemm`` expand each channel into ``H*W`` consecutive features.

A group is the unit of pruning: removing channel ``i`` of a group removes it from every producer
(weight rows, bias), every parameter along the way (BN statistics, PReLU slopes, per-channel
constants) and every consumer (weight columns, expanded for ``Flatten``). Groups that reach a graph
input or output, a grouped convolution, or any op this analysis does not understand are *fixed*:
they are reported with the reason and never pruned.

Example::

    >>> import onnx_ir as ir
    >>> from modelps.model import Model
    >>> model = Model(ir.from_onnx_text('''
    ...     <ir_version: 8, opset_import: ["" : 17]>
    ...     g (float[1,1,2,2] x) => (float[1,2,2,2] y)
    ...     <float[4,1,1,1] w1 = {1, 2, 3, 4}, float[2,4,1,1] w2 = {1, 1, 1, 1, 1, 1, 1, 1}> {
    ...       a = Conv(x, w1)
    ...       b = Relu(a)
    ...       y = Conv(b, w2) }''')).ir
    >>> [(g.name, g.size, g.prunable, g.reason) for g in analyze(model).groups]
    [('x', 1, False, "it is the model input 'x'"), ('n0', 4, True, None),
     ('n2', 2, False, "it is the model output 'y'")]
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np
import onnx
import onnx_ir as ir

__all__ = [
    "Analysis",
    "ChannelGroup",
    "ConsumerUse",
    "Layout",
    "ParamSlice",
    "analyze",
    "layout_indices",
    "inferred_types",
    "static_shapes",
]

logger = logging.getLogger(__name__)

Layout = tuple[tuple[int, int], ...]
"""Channel layout of a tensor's axis 1: ``((space, repeat), ...)``; each channel of ``space`` is
``repeat`` consecutive elements."""

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


@dataclasses.dataclass
class ParamSlice:
    """A constant input of a node to be sliced along ``axis`` with a layout's kept indices."""

    node: str
    input_index: int
    axis: int
    layout: Layout


@dataclasses.dataclass
class ConsumerUse:
    """A node that mixes the channels of its input ``layout`` (weight sliced along ``axis``)."""

    node: str
    op_type: str
    weight_index: int
    axis: int
    layout: Layout


@dataclasses.dataclass
class ShapeUpdate:
    """A constant shape/sizes vector whose entry ``index`` is the channel count of ``layout``."""

    node: str
    input_index: int
    index: int
    layout: Layout


@dataclasses.dataclass
class AttrUpdate:
    """An integer attribute (a depthwise conv's ``group``) equal to the channel count of ``layout``."""

    node: str
    name: str
    layout: Layout


@dataclasses.dataclass
class ChannelGroup:
    """Channels that must be pruned together.

    Attributes:
        name: A stable name: the first producer node's name (or the value's for fixed groups).
        size: Number of channels.
        producers: Nodes whose output channels form the group.
        consumers: Nodes that read the group's channels (their weight columns).
        prunable: Whether the group may be pruned.
        reason: Why not, when it may not.
        residual: Whether several producers are tied (a residual stream).
    """

    id: int
    name: str
    size: int
    producers: list[str]
    consumers: list[str]
    prunable: bool
    reason: str | None
    residual: bool
    members: list[str]
    """Every node touching the group (producers, pass-throughs, consumers)."""


@dataclasses.dataclass
class Analysis:
    """The result of :func:`analyze`: groups plus the surgery plan."""

    groups: list[ChannelGroup]
    space_group: dict[int, int]
    space_size: dict[int, int]
    params: list[ParamSlice]
    consumers: list[ConsumerUse]
    shape_updates: list[ShapeUpdate]
    attr_updates: list[AttrUpdate]
    layouts: dict[str, Layout]

    def group(self, name: str) -> ChannelGroup:
        """Look up a group by name (``KeyError`` if absent)."""
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(name)

    @property
    def prunable(self) -> list[ChannelGroup]:
        """The groups that may be pruned."""
        return [g for g in self.groups if g.prunable]

    def uses_of(self, group_ids: Collection[int]) -> list[ConsumerUse]:
        """The consumer uses that read channels of any of the groups with these ids."""
        return [u for u in self.consumers if any(self.space_group[s] in group_ids for s, _ in u.layout)]


def static_shapes(model: ir.Model) -> dict[str, tuple[int | str | None, ...]]:
    """Shapes of every value after ONNX shape inference (symbolic dims are names, unknown ``None``)."""
    return {name: shape for name, (_, shape) in inferred_types(model).items()}


def inferred_types(model: ir.Model) -> dict[str, tuple[ir.DataType | None, tuple[int | str | None, ...]]]:
    """Element type and shape of every value after ONNX shape inference on a weightless copy."""
    proto = ir.to_proto(_weightless(model))
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001  shape inference is best effort
        inferred = proto
    found: dict[str, tuple[ir.DataType | None, tuple[int | str | None, ...]]] = {}
    for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        t = info.type.tensor_type
        if t.HasField("shape"):
            dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim)
            found[info.name] = (ir.DataType(t.elem_type) if t.elem_type else None, dims)
    for value in model.graph.initializers.values():
        if value.name and value.const_value is not None:
            found[value.name] = (value.const_value.dtype, tuple(value.const_value.shape.numpy()))
    return found


def _weightless(model: ir.Model) -> ir.Model:
    """A clone whose large initializers are replaced by declared graph inputs (for shape inference)."""
    clone = model.clone()
    graph = clone.graph
    for name, value in list(graph.initializers.items()):
        tensor = value.const_value
        if tensor is not None and tensor.size > 64:
            value.type = ir.TensorType(tensor.dtype)
            value.shape = ir.Shape(tensor.shape.numpy())
            value.const_value = None
            graph.initializers.pop(name)
            if not value.is_graph_input():
                graph.inputs.append(value)
    return clone


def const_array(value: ir.Value | None) -> np.ndarray | None:
    """The constant data of an initializer or ``Constant`` output, else ``None``."""
    if value is None:
        return None
    if value.const_value is not None:
        return value.const_value.numpy()
    producer = value.producer()
    if producer is None or producer.op_type != "Constant" or producer.domain not in ("", "ai.onnx"):
        return None
    # read the attribute directly: onnx_ir's get_const_tensor renames the node's tensor in place
    for attr in producer.attributes.values():
        if attr.type == ir.AttributeType.TENSOR:
            return attr.as_tensor().numpy()
        if attr.name in ("value_float", "value_floats", "value_int", "value_ints"):
            return np.asarray(attr.value, np.float32 if "float" in attr.name else np.int64)
    return None


class _Analyzer:
    def __init__(self, model: ir.Model) -> None:
        self.graph = model.graph
        self.shapes = static_shapes(model)
        self.parent: list[int] = []
        self.size: list[int] = []
        self.fixed: dict[int, str] = {}
        self.origin: dict[int, str] = {}
        self.producers: dict[int, list[str]] = {}
        self.members: dict[int, list[str]] = {}
        self.layouts: dict[str, Layout] = {}
        self.params: list[ParamSlice] = []
        self.consumers: list[ConsumerUse] = []
        self.shape_updates: list[ShapeUpdate] = []
        self.attr_updates: list[AttrUpdate] = []

    # -- union-find over channel spaces ------------------------------------------------------
    def new_space(self, size: int, origin: str, fixed: str | None = None, producer: str | None = None) -> int:
        sid = len(self.parent)
        self.parent.append(sid)
        self.size.append(size)
        self.origin[sid] = origin
        self.producers[sid] = [producer] if producer else []
        self.members[sid] = [producer] if producer else []
        if fixed:
            self.fixed[sid] = fixed
        return sid

    def find(self, sid: int) -> int:
        while self.parent[sid] != sid:
            self.parent[sid] = self.parent[self.parent[sid]]
            sid = self.parent[sid]
        return sid

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            self.parent[hi] = lo

    def block(self, layout: Layout | None, reason: str) -> None:
        for sid, _ in layout or ():
            self.fixed.setdefault(sid, reason)

    def touch(self, layout: Layout | None, node: str) -> None:
        for sid, _ in layout or ():
            self.members[sid].append(node)

    # -- helpers ---------------------------------------------------------------------------
    def shape(self, value: ir.Value | None) -> tuple[int | str | None, ...] | None:
        if value is None or value.name is None:
            return None
        return self.shapes.get(value.name)

    def layout(self, value: ir.Value | None) -> Layout | None:
        if value is None or value.name is None:
            return None
        return self.layouts.get(value.name)

    def set_layout(self, value: ir.Value, layout: Layout | None) -> None:
        if layout is not None and value.name is not None:
            self.layouts[value.name] = layout

    def fresh_output(self, value: ir.Value, reason: str) -> None:
        shape = self.shape(value)
        if shape is not None and len(shape) >= 2 and isinstance(shape[1], int) and shape[1] > 0:
            sid = self.new_space(shape[1], value.name or "?", fixed=reason)
            self.set_layout(value, ((sid, 1),))

    def opaque(self, node: ir.Node, reason: str | None = None) -> None:
        why = reason or f"it reaches {node.op_type} node {node.name!r}, which the pruner does not look through"
        for value in node.inputs:
            self.block(self.layout(value), why)
            self.touch(self.layout(value), node.name or "")
        for value in node.outputs:
            self.fresh_output(value, why)

    # -- main loop ---------------------------------------------------------------------------
    def run(self) -> Analysis:
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

    def result(self) -> Analysis:
        roots: dict[int, list[int]] = {}
        for sid in range(len(self.parent)):
            roots.setdefault(self.find(sid), []).append(sid)
        groups: list[ChannelGroup] = []
        space_group: dict[int, int] = {}
        for gid, (_, sids) in enumerate(sorted(roots.items())):
            producers = [p for s in sids for p in self.producers[s]]
            members = list(dict.fromkeys(m for s in sids for m in self.members[s] if m))
            reasons = [self.fixed[s] for s in sids if s in self.fixed]
            sizes = {self.size[s] for s in sids}
            reason = reasons[0] if reasons else None
            if reason is None and len(sizes) != 1:
                reason = "its tensors disagree on the channel count"
            if reason is None and not producers:
                reason = "no layer produces it"
            for s in sids:
                space_group[s] = gid
            name = producers[0] if producers else self.origin[sids[0]]
            groups.append(
                ChannelGroup(
                    id=gid,
                    name=name,
                    size=self.size[sids[0]],
                    producers=producers,
                    consumers=[],
                    prunable=reason is None,
                    reason=reason,
                    residual=len(producers) > 1,
                    members=members,
                )
            )
        for use in self.consumers:
            for sid, _ in use.layout:
                consumers = groups[space_group[sid]].consumers
                if use.node not in consumers:
                    consumers.append(use.node)
        return Analysis(
            groups=groups,
            space_group=space_group,
            space_size={s: self.size[s] for s in range(len(self.size))},
            params=self.params,
            consumers=self.consumers,
            shape_updates=self.shape_updates,
            attr_updates=self.attr_updates,
            layouts=dict(self.layouts),
        )

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
        cin = _layout_len(layout, self)
        if group == 1 and weight.shape[1] == cin:
            self.consumers.append(ConsumerUse(name, "Conv", 1, 1, layout))
            self.touch(layout, name)
            sid = self.new_space(weight.shape[0], name, producer=name)
            out: Layout = ((sid, 1),)
            self.params.append(ParamSlice(name, 1, 0, out))
            if len(node.inputs) > 2 and node.inputs[2] is not None:
                self.params.append(ParamSlice(name, 2, 0, out))
            self.set_layout(node.outputs[0], out)
            return None
        if group == cin and weight.shape[0] == cin and weight.shape[1] == 1:  # depthwise
            self.touch(layout, name)
            self.params.append(ParamSlice(name, 1, 0, layout))
            if len(node.inputs) > 2 and node.inputs[2] is not None:
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
            or weight.shape[0] != _layout_len(layout, self)
        ):
            return self.opaque(node)
        name = node.name or ""
        self.consumers.append(ConsumerUse(name, "ConvTranspose", 1, 0, layout))
        self.touch(layout, name)
        sid = self.new_space(weight.shape[1], name, producer=name)
        out: Layout = ((sid, 1),)
        self.params.append(ParamSlice(name, 1, 1, out))
        if len(node.inputs) > 2 and node.inputs[2] is not None:
            self.params.append(ParamSlice(name, 2, 0, out))
        self.set_layout(node.outputs[0], out)
        return None

    def op_Gemm(self, node: ir.Node) -> None:
        weight = const_array(node.inputs[1])
        layout = self.layout(node.inputs[0])
        shape = self.shape(node.inputs[0])
        if weight is None or layout is None or shape is None or len(shape) != 2 or _int_attr(node, "transA", 0):
            return self.opaque(node)
        trans_b = _int_attr(node, "transB", 0)
        k_axis, n_axis = (1, 0) if trans_b else (0, 1)
        if weight.shape[k_axis] != _layout_len(layout, self):
            return self.opaque(node)
        bias = node.inputs[2] if len(node.inputs) > 2 else None
        bias_arr = const_array(bias)
        if bias is not None and bias_arr is None:
            return self.opaque(node)
        name = node.name or ""
        self.consumers.append(ConsumerUse(name, "Gemm", 1, k_axis, layout))
        self.touch(layout, name)
        n = weight.shape[n_axis]
        sid = self.new_space(n, name, producer=name)
        out: Layout = ((sid, 1),)
        self.params.append(ParamSlice(name, 1, n_axis, out))
        if bias_arr is not None and bias_arr.ndim >= 1 and bias_arr.shape[-1] == n and n > 1:
            self.params.append(ParamSlice(name, 2, bias_arr.ndim - 1, out))
        self.set_layout(node.outputs[0], out)
        return None

    def op_MatMul(self, node: ir.Node) -> None:
        weight = const_array(node.inputs[1])
        layout = self.layout(node.inputs[0])
        shape = self.shape(node.inputs[0])
        if weight is None or weight.ndim != 2 or layout is None or shape is None or len(shape) != 2:
            return self.opaque(node)
        if weight.shape[0] != _layout_len(layout, self):
            return self.opaque(node)
        name = node.name or ""
        self.consumers.append(ConsumerUse(name, "MatMul", 1, 0, layout))
        self.touch(layout, name)
        sid = self.new_space(weight.shape[1], name, producer=name)
        out: Layout = ((sid, 1),)
        self.params.append(ParamSlice(name, 1, 1, out))
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

    def tie(self, a: Layout, b: Layout) -> bool:
        if len(a) != len(b):
            return False
        for (sa, ra), (sb, rb) in zip(a, b, strict=True):
            if ra != rb or self.size[sa] != self.size[sb]:
                return False
        for (sa, _), (sb, _) in zip(a, b, strict=True):
            self.union(sa, sb)
        return True

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


def _int_attr(node: ir.Node, name: str, default: int) -> int:
    attr = node.attributes.get(name)
    return default if attr is None else int(attr.as_int())


def _layout_len(layout: Layout, analyzer: _Analyzer) -> int:
    return sum(analyzer.size[s] * r for s, r in layout)


def analyze(model: ir.Model) -> Analysis:
    """Find the channel groups of ``model``'s main graph and how to prune each of them."""
    return _Analyzer(model).run()


def layout_indices(layout: Layout, analysis: Analysis, keep: Mapping[int, np.ndarray]) -> tuple[np.ndarray, int]:
    """Kept element indices along a tensor axis with ``layout`` and the axis's original length.

    ``keep`` maps group ids to sorted kept channel indices (groups not in it are kept whole).
    """
    parts: list[np.ndarray] = []
    offset = 0
    for sid, rep in layout:
        size = analysis.space_size[sid]
        kept = keep.get(analysis.space_group[sid])
        idx = np.arange(size) if kept is None else np.asarray(kept)
        parts.append(((idx[:, None] * rep + np.arange(rep)[None, :]).reshape(-1) + offset).astype(np.int64))
        offset += size * rep
    return (np.concatenate(parts) if parts else np.zeros(0, np.int64)), offset


def groups_touching(layout: Sequence[tuple[int, int]], analysis: Analysis) -> Iterable[int]:
    """Group ids present in a layout."""
    return dict.fromkeys(analysis.space_group[s] for s, _ in layout).keys()
