"""The node inspector's data: attributes, input/output tensors with shapes, initializer statistics.

Example::

    >>> import onnx_ir as ir
    >>> from modelps.model import Model
    >>> m = Model(ir.from_onnx_text('''
    ...     <ir_version: 8, opset_import: ["" : 17]>
    ...     g (float[1,2] x) => (float[1,2] y) <float[2] b = {1.0, 3.0}> { y = Add(x, b) }''')).ir
    >>> info = node_info(m, "n0")
    >>> info.op, [t.name for t in info.inputs], info.inputs[1].stats.mean
    ('Add', ['x', 'b'], 2.0)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import onnx_ir as ir

from editor_ui.graph import shape_text

__all__ = ["NodeInfo", "TensorInfo", "TensorStats", "model_summary", "node_info", "tensor_stats"]

_MAX_SAMPLE = 1_000_000


@dataclasses.dataclass(frozen=True)
class TensorStats:
    """Summary statistics of an initializer, with a histogram (``counts`` over ``edges``)."""

    shape: tuple[int, ...]
    dtype: str
    size: int
    min: float
    max: float
    mean: float
    std: float
    zeros: float
    counts: tuple[int, ...]
    edges: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """An input or output tensor of a node: name, element type, shape, and stats if it is a weight."""

    name: str
    dtype: str
    shape: str
    stats: TensorStats | None


@dataclasses.dataclass(frozen=True)
class NodeInfo:
    """What the inspector shows for one node."""

    name: str
    op: str
    domain: str
    attributes: dict[str, Any]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]


def tensor_stats(array: np.ndarray, bins: int = 30) -> TensorStats:
    """Statistics of ``array`` (large tensors are sampled evenly for the histogram and moments).

    >>> s = tensor_stats(np.array([0.0, 1.0, 2.0, 3.0]), bins=3)
    >>> s.min, s.max, s.mean, s.zeros, s.counts
    (0.0, 3.0, 1.5, 0.25, (1, 1, 2))
    """
    flat = np.asarray(array).reshape(-1)
    if flat.size > _MAX_SAMPLE:
        flat = flat[:: flat.size // _MAX_SAMPLE + 1]
    values = flat.astype(np.float64) if flat.size else np.zeros(1)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        finite = np.zeros(1)
    counts, edges = np.histogram(finite, bins=bins)
    return TensorStats(
        shape=tuple(int(d) for d in np.shape(array)),
        dtype=str(np.asarray(array).dtype),
        size=int(np.size(array)),
        min=float(finite.min()),
        max=float(finite.max()),
        mean=float(finite.mean()),
        std=float(finite.std()),
        zeros=float(np.mean(values == 0)),
        counts=tuple(int(c) for c in counts),
        edges=tuple(float(e) for e in edges),
    )


def _tensor_info(value: ir.Value | None) -> TensorInfo:
    if value is None:
        return TensorInfo("", "", "", None)
    stats = None
    if value.const_value is not None:
        try:
            stats = tensor_stats(value.const_value.numpy())
        except Exception:  # an unsupported element type: show no stats rather than fail the page
            stats = None
    dtype = str(value.dtype.name if value.dtype is not None else "?").lower()
    return TensorInfo(value.name or "", dtype, shape_text(value), stats)


def _attribute_value(attr: ir.Attr) -> Any:
    value = attr.value
    if isinstance(value, ir.TensorProtocol):
        return f"tensor {shape_text(ir.Value(shape=value.shape))} {value.dtype.name.lower()}"
    if isinstance(value, ir.Graph):
        return f"graph ({len(value)} nodes)"
    if isinstance(value, (list, tuple)):
        return [v if isinstance(v, (int, float, str)) else str(v) for v in value]
    return value


def node_info(model: ir.Model, name: str) -> NodeInfo:
    """Inspector data for the node called ``name`` or a graph input/output of that name.

    Raises:
        KeyError: Nothing of that name is in the main graph.
    """
    for node in model.graph:
        if node.name == name:
            attrs = {key: _attribute_value(attr) for key, attr in node.attributes.items()}
            return NodeInfo(
                name=name,
                op=node.op_type,
                domain=node.domain or "ai.onnx",
                attributes=attrs,
                inputs=tuple(_tensor_info(v) for v in node.inputs),
                outputs=tuple(_tensor_info(v) for v in node.outputs),
            )
    for value in model.graph.inputs:
        if value.name == name:
            return NodeInfo(name, "Input", "", {}, (), (_tensor_info(value),))
    for value in model.graph.outputs:
        if value.name == name.strip():
            return NodeInfo(name.strip(), "Output", "", {}, (_tensor_info(value),), ())
    raise KeyError(name)


def model_summary(model: ir.Model) -> dict[str, Any]:
    """Return counts for the header: nodes, op types, parameters, inputs and outputs with shapes."""
    ops: dict[str, int] = {}
    for node in model.graph:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    params = sum(
        int(np.prod(v.const_value.shape.numpy())) if v.const_value is not None else 0
        for v in model.graph.initializers.values()
    )
    return {
        "nodes": len(model.graph),
        "parameters": params,
        "op_counts": dict(sorted(ops.items(), key=lambda kv: -kv[1])),
        "inputs": {v.name: shape_text(v) for v in model.graph.inputs if not v.is_initializer()},
        "outputs": {v.name: shape_text(v) for v in model.graph.outputs},
        "opset": model.opset_imports.get("", None),
    }
