"""Structured channel pruning on the ONNX graph: importance scores, channel selection, surgery.

:func:`prune` returns a new model in which the chosen channels of each group are gone from every
tensor of the group (see :mod:`modelps.compress.channels`); the input model is not changed.

Example::

    >>> import numpy as np, onnx_ir as ir
    >>> from modelps.model import Model
    >>> model = Model(ir.from_onnx_text('''
    ...     <ir_version: 8, opset_import: ["" : 17]>
    ...     g (float[1,1,2,2] x) => (float[1,2,2,2] y)
    ...     <float[4,1,1,1] w1 = {1, 2, 3, 4}, float[2,4,1,1] w2 = {1, 2, 3, 4, 5, 6, 7, 8}> {
    ...       a = Conv(x, w1)
    ...       y = Conv(a, w2) }''')).ir
    >>> pruned = prune(model, {"n0": np.array([0, 2])})
    >>> [pruned.graph.initializers[n].const_value.numpy().ravel().tolist() for n in ("w1", "w2")]
    [[1.0, 3.0], [1.0, 3.0, 5.0, 7.0]]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
import onnx_ir as ir

from modelps.compress.channels import (
    Analysis,
    ChannelGroup,
    Layout,
    analyze,
    const_array,
    inferred_types,
    layout_indices,
)

__all__ = [
    "IMPORTANCE",
    "Importance",
    "channel_scores",
    "keep_count",
    "nodes_by_name",
    "prune",
    "select_channels",
]

logger = logging.getLogger(__name__)

Importance = Literal["l1", "l2", "bn"]
IMPORTANCE: tuple[str, ...] = ("l1", "l2", "bn", "error")


class PruneError(ValueError):
    """A pruning request does not fit the model (unknown group, fixed group, bad keep set)."""


def nodes_by_name(graph: ir.Graph) -> dict[str, ir.Node]:
    """Map node names to nodes; refuses duplicate or missing names."""
    table: dict[str, ir.Node] = {}
    for node in graph:
        if not node.name or node.name in table:
            raise PruneError(f"node names must be unique and non-empty to prune (offending: {node.name!r})")
        table[node.name] = node
    return table


def keep_count(size: int, ratio: float, round_to: int = 1) -> int:
    """How many of ``size`` channels remain after removing ``ratio`` of them.

    Rounded to a multiple of ``round_to`` (where the group is large enough) and at least 1.

    Example::

        >>> keep_count(64, 0.3), keep_count(64, 0.3, round_to=8), keep_count(3, 0.99)
        (45, 48, 1)
    """
    keep = size - int(round(size * ratio))
    if round_to > 1 and size >= 2 * round_to:
        keep = int(round(keep / round_to)) * round_to
    return int(min(size, max(1, keep)))


def channel_scores(model: ir.Model, analysis: Analysis, group: ChannelGroup, method: str = "l2") -> np.ndarray:
    """Importance of each channel of ``group`` from weights (higher = keep).

    ``l1``/``l2``: norms of each producer's output-channel weights, each producer normalized by
    its mean, summed. ``bn``: ``|gamma| / sqrt(var + eps)`` of BatchNormalization layers applied to
    the group (falls back to ``l2`` when there is none).
    """
    nodes = nodes_by_name(model.graph)
    if method == "bn":
        scores = _bn_scores(nodes, analysis, group)
        if scores is not None:
            return scores
        method = "l2"
    total = np.zeros(group.size, np.float64)
    for param in analysis.params:
        if param.node not in group.producers or param.input_index != 1:
            continue
        weight = const_array(nodes[param.node].inputs[1])
        if weight is None:
            continue
        rows = np.moveaxis(weight.astype(np.float64), param.axis, 0).reshape(weight.shape[param.axis], -1)
        norms = np.abs(rows).sum(1) if method == "l1" else np.sqrt((rows**2).sum(1))
        total += norms / max(float(norms.mean()), 1e-12)
    return total


def _bn_scores(nodes: Mapping[str, ir.Node], analysis: Analysis, group: ChannelGroup) -> np.ndarray | None:
    found = []
    for param in analysis.params:
        node = nodes[param.node]
        if node.op_type != "BatchNormalization" or param.input_index != 1:
            continue
        if len(param.layout) != 1 or analysis.space_group[param.layout[0][0]] != group.id:
            continue
        gamma = const_array(node.inputs[1])
        var = const_array(node.inputs[4])
        if gamma is None or var is None:
            continue
        eps = node.attributes["epsilon"].as_float() if "epsilon" in node.attributes else 1e-5
        found.append(np.abs(gamma.astype(np.float64)) / np.sqrt(var.astype(np.float64) + eps))
    if not found:
        return None
    return np.sum([f / max(float(f.mean()), 1e-12) for f in found], axis=0)


def select_channels(scores: np.ndarray, keep: int) -> np.ndarray:
    """Indices of the ``keep`` highest scores, sorted (ties broken by lower index)."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    return np.sort(order[:keep]).astype(np.int64)


def prune(
    model: ir.Model,
    keep: Mapping[str, np.ndarray],
    analysis: Analysis | None = None,
    *,
    refresh: bool = True,
) -> ir.Model:
    """Return a copy of ``model`` keeping only channels ``keep[group_name]`` of each named group.

    With ``refresh=False`` the intermediate tensors' shapes are dropped instead of re-inferred
    (faster; for models that are only run, not saved).

    Raises:
        PruneError: A group is unknown or fixed, or a keep set is empty, unsorted or out of range.
    """
    analysis = analysis or analyze(model)
    by_id = _keep_by_id(analysis, keep)
    clone = model.clone()
    if not by_id:
        return clone
    graph = clone.graph
    nodes = nodes_by_name(graph)
    slicing: dict[tuple[str, int], list[tuple[int, Layout]]] = {}
    for param in analysis.params:
        slicing.setdefault((param.node, param.input_index), []).append((param.axis, param.layout))
    for use in analysis.consumers:
        slicing.setdefault((use.node, use.weight_index), []).append((use.axis, use.layout))
    for (node_name, index), rules in slicing.items():
        node = nodes[node_name]
        array = const_array(node.inputs[index])
        if array is None:
            raise PruneError(f"input {index} of node {node_name!r} is not constant")
        new = array
        changed = False
        for axis, layout in rules:
            indices, length = layout_indices(layout, analysis, by_id)
            if new.shape[axis] != length:
                raise PruneError(
                    f"input {index} of node {node_name!r} has {new.shape[axis]} entries on axis {axis}, expected {length}"
                )
            if len(indices) != length:
                new = np.take(new, indices, axis=axis)
                changed = True
        if changed:
            set_const_input(graph, node, index, np.ascontiguousarray(new))
    for update in analysis.shape_updates:
        node = nodes[update.node]
        vector = const_array(node.inputs[update.input_index])
        assert vector is not None
        indices, _ = layout_indices(update.layout, analysis, by_id)
        vector = vector.copy()
        vector[update.index] = len(indices)
        set_const_input(graph, node, update.input_index, vector)
    for attr in analysis.attr_updates:
        indices, _ = layout_indices(attr.layout, analysis, by_id)
        nodes[attr.node].attributes[attr.name] = ir.AttrInt64(attr.name, len(indices))
    if refresh:
        refresh_shapes(clone)
    else:
        for node in graph:
            for value in node.outputs:
                if not value.is_graph_output():
                    value.shape = None
    return clone


def _keep_by_id(analysis: Analysis, keep: Mapping[str, np.ndarray]) -> dict[int, np.ndarray]:
    by_id: dict[int, np.ndarray] = {}
    names = {g.name: g for g in analysis.groups}
    for name, kept in keep.items():
        group = names.get(name)
        if group is None:
            raise PruneError(f"no channel group named {name!r}")
        if not group.prunable:
            raise PruneError(f"group {name!r} cannot be pruned: {group.reason}")
        kept = np.asarray(kept, dtype=np.int64)
        if kept.ndim != 1 or len(kept) == 0:
            raise PruneError(f"group {name!r}: at least one channel must remain")
        if np.any(np.diff(kept) <= 0) or kept[0] < 0 or kept[-1] >= group.size:
            raise PruneError(f"group {name!r}: kept channels must be sorted, unique and within 0..{group.size - 1}")
        if len(kept) < group.size:
            by_id[group.id] = kept
    return by_id


def set_const_input(graph: ir.Graph, node: ir.Node, index: int, array: np.ndarray) -> None:
    """Point input ``index`` of ``node`` at a new initializer holding ``array``.

    The old tensor keeps serving its other users; it is dropped when this node was the last.
    """
    old = node.inputs[index]
    base = old.name if old is not None and old.name else f"{node.name}_input{index}"
    if old is not None and old.is_initializer() and len(old.uses()) == 1 and not old.is_graph_input():
        old.const_value = ir.tensor(array, name=old.name)
        old.shape = ir.Shape(array.shape)
        return
    name = _unique_initializer_name(graph, f"{base}__{node.name}")
    value = ir.Value(name=name, type=ir.TensorType(ir.DataType.from_numpy(array.dtype)), shape=ir.Shape(array.shape))
    value.const_value = ir.tensor(array, name=name)
    graph.register_initializer(value)
    node.replace_input_with(index, value)
    if (
        old is not None
        and old.is_initializer()
        and not old.uses()
        and not old.is_graph_input()
        and not old.is_graph_output()
    ):
        assert old.name is not None
        graph.initializers.pop(old.name)


def _unique_initializer_name(graph: ir.Graph, name: str) -> str:
    taken = set(graph.initializers)
    taken.update(v.name for n in graph for v in n.outputs if v.name)
    candidate, i = name, 1
    while candidate in taken:
        candidate, i = f"{name}_{i}", i + 1
    return candidate


def refresh_shapes(model: ir.Model) -> None:
    """Re-derive the shapes of intermediate tensors after their channel counts changed."""
    for node in model.graph:
        for value in node.outputs:
            if not value.is_graph_output():
                value.shape = None
    found = inferred_types(model)
    for node in model.graph:
        for value in node.outputs:
            dtype, dims = found.get(value.name or "", (None, None))
            if dims is None or value.is_graph_output():
                continue
            if value.type is None and dtype is not None:
                value.type = ir.TensorType(dtype)
            if value.type is not None:
                value.shape = ir.Shape(list(dims))


ScoreFn = Callable[[ir.Model, Analysis, ChannelGroup], np.ndarray]
