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

from editor_ui.graph import Types, dtype_text, shape_text

__all__ = [
    "NodeInfo",
    "TensorInfo",
    "TensorStats",
    "attributes_markdown",
    "histogram_spec",
    "model_summary",
    "node_info",
    "tensor_stats",
    "tensors_markdown",
]

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
    source: str = ""
    """Where a constant input comes from: ``initializer``, ``Constant``, or the op that computes it from constants."""


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


def _constant(value: ir.Value) -> tuple[ir.TensorProtocol | None, str]:
    if value.const_value is not None:
        return value.const_value, "initializer" if value.is_initializer() else "constant"
    producer = value.producer()
    if producer is None:
        return None, ""
    if producer.op_type == "Constant":
        attr = producer.attributes.get("value")
        tensor = attr.value if attr is not None and isinstance(attr.value, ir.TensorProtocol) else None
        return tensor, "Constant"
    return None, ""


def _tensor_info(
    value: ir.Value | None,
    types: Types | None = None,
    folded: frozenset[str] = frozenset(),
) -> TensorInfo:
    if value is None:
        return TensorInfo("", "", "", None)
    tensor, source = _constant(value)
    stats = None
    if tensor is not None:
        try:
            stats = tensor_stats(tensor.numpy())
        except Exception:  # an unsupported element type: show no stats rather than fail the page
            stats = None
    producer = value.producer()
    if not source and producer is not None and (producer.name or producer.op_type) in folded:
        source = f"folded {producer.op_type}"
    return TensorInfo(value.name or "", dtype_text(value, types), shape_text(value, types), stats, source)


def _attribute_value(attr: ir.Attr) -> Any:
    value = attr.value
    if isinstance(value, ir.TensorProtocol):
        return f"tensor {shape_text(ir.Value(shape=value.shape))} {value.dtype.name.lower()}"
    if isinstance(value, ir.Graph):
        return f"graph ({len(value)} nodes)"
    if isinstance(value, (list, tuple)):
        return [v if isinstance(v, (int, float, str)) else str(v) for v in value]
    return value


def node_info(
    model: ir.Model,
    name: str,
    *,
    graph: ir.Graph | ir.Function | None = None,
    types: Types | None = None,
    folded: frozenset[str] = frozenset(),
    node: ir.Node | None = None,
) -> NodeInfo:
    """Inspector data for the node called ``name`` (or a graph input/output of that name) in ``graph``.

    ``node`` is the node itself when the caller knows it (an unnamed node of a subgraph, drawn under a
    made-up name).

    ``graph`` defaults to the main graph; ``types`` (from shape inference) fill in undeclared types and
    shapes; inputs computed by the nodes named in ``folded`` are marked as folded constants.

    Raises:
        KeyError: Nothing of that name is in the graph.
    """
    graph = model.graph if graph is None else graph
    for candidate in [node] if node is not None else graph:
        if candidate is node or candidate.name == name:
            node = candidate
            attrs = {key: _attribute_value(attr) for key, attr in node.attributes.items()}
            return NodeInfo(
                name=name,
                op=node.op_type,
                domain=node.domain or "ai.onnx",
                attributes=attrs,
                inputs=tuple(_tensor_info(v, types, folded) for v in node.inputs),
                outputs=tuple(_tensor_info(v, types) for v in node.outputs),
            )
    for value in graph.inputs:
        if value.name == name:
            return NodeInfo(name, "Input", "", {}, (), (_tensor_info(value, types),))
    for value in graph.outputs:
        if value.name == name.strip():
            return NodeInfo(name.strip(), "Output", "", {}, (_tensor_info(value, types),), ())
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


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def attributes_markdown(info: NodeInfo) -> str:
    """Return the node's attributes as a Markdown table.

    >>> print(attributes_markdown(NodeInfo("n", "Conv", "", {"pads": [1, 1]}, (), ())))
    | attribute | value |
    |---|---|
    | pads | [1, 1] |
    """
    rows = [f"| {_cell(k)} | {_cell(v)} |" for k, v in info.attributes.items()]
    return "\n".join(["| attribute | value |", "|---|---|", *rows])


def tensors_markdown(tensors: tuple[TensorInfo, ...]) -> str:
    """Return tensors as a two-column Markdown table: name, then element type, shape and constant source.

    >>> print(tensors_markdown((TensorInfo("w", "float", "8×3", None, "initializer"),)))
    | tensor | type |
    |---|---|
    | w | float 8×3 · initializer |
    """
    rows = [
        f"| {_cell(t.name)} | {t.dtype} {t.shape}{f' · {t.source}' if t.source else ''} |" for t in tensors if t.name
    ]
    return "\n".join(["| tensor | type |", "|---|---|", *rows])


def histogram_spec(stats: TensorStats) -> dict[str, Any]:
    """An ECharts bar chart of ``stats``' histogram, bins left to right in numeric order.

    >>> spec = histogram_spec(tensor_stats(np.array([-2.0, -1.0, 0.5, 3.0]), bins=3))
    >>> spec["xAxis"]["data"], spec["series"][0]["data"]
    (['-1.17', '0.5', '2.17'], [2, 1, 1])
    """
    centres = [(a + b) / 2 for a, b in zip(stats.edges[:-1], stats.edges[1:], strict=True)]
    return {
        "animation": False,
        "grid": {"left": 40, "right": 10, "top": 10, "bottom": 30},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [f"{c:.3g}" for c in centres], "name": "value"},
        "yAxis": {"type": "value", "name": "count"},
        "series": [{"type": "bar", "data": list(stats.counts), "barCategoryGap": "5%"}],
    }
