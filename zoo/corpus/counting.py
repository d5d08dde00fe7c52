"""An independent weight count: a raw protobuf walk over every place an ONNX model can keep weights.

It does not use :mod:`modelps.inspect` (the count it checks). A *weight element* is one stored
floating-point value (float16, bfloat16, float32, float64) in

* an initializer of the main graph or of any subgraph (``If``/``Loop``/``Scan`` bodies, nested),
* a ``Constant`` node (``value``, ``value_float``, ``value_floats``, ``sparse_value``) anywhere: the
  main graph, subgraphs, and the bodies of local functions (each function counted once),
* a floating-point list or tensor attribute of an ``ai.onnx.ml`` node (``Scaler``'s ``scale``,
  ``LinearClassifier``'s ``coefficients``, tree thresholds, ...).

Integer and boolean tensors (shapes, indices, axes) are counted apart, as ``other``.

Example::

    >>> import onnx
    >>> count_weights(onnx.ModelProto()).floating
    0
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import onnx

__all__ = ["WeightCount", "count_weights", "iter_graphs"]

_FLOATING = {
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
    onnx.TensorProto.DOUBLE,
}
_ML_DOMAIN = "ai.onnx.ml"


@dataclass
class WeightCount:
    """Stored elements of a model, split by kind and by where they live.

    Attributes:
        floating: Floating-point weight elements (the parameter count).
        other: Integer, boolean and string elements (shapes, indices).
        by_place: Floating elements per place: ``initializer``, ``constant``, ``subgraph-initializer``,
            ``subgraph-constant``, ``function-constant``, ``ml-attribute``.
    """

    floating: int = 0
    other: int = 0
    by_place: Counter[str] = field(default_factory=Counter)

    def add(self, place: str, n: int, floating: bool) -> None:
        if floating:
            self.floating += n
            self.by_place[place] += n
        else:
            self.other += n


def _tensor_elements(t: onnx.TensorProto) -> int:
    return math.prod(t.dims)


def iter_graphs(graph: onnx.GraphProto, depth: int = 0) -> Iterator[tuple[onnx.GraphProto, int]]:
    """Yield ``graph`` (depth 0) and every nested subgraph with its nesting depth."""
    yield graph, depth
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from iter_graphs(attr.g, depth + 1)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from iter_graphs(g, depth + 1)


def _count_nodes(nodes: list[onnx.NodeProto] | object, prefix: str, count: WeightCount) -> None:
    for node in nodes:  # type: ignore[attr-defined]
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value":
                    count.add(f"{prefix}constant", _tensor_elements(attr.t), attr.t.data_type in _FLOATING)
                elif attr.name == "sparse_value":
                    values = attr.sparse_tensor.values
                    count.add(f"{prefix}constant", _tensor_elements(values), values.data_type in _FLOATING)
                elif attr.name == "value_float":
                    count.add(f"{prefix}constant", 1, True)
                elif attr.name == "value_floats":
                    count.add(f"{prefix}constant", len(attr.floats), True)
                elif attr.name in ("value_int", "value_string"):
                    count.add(f"{prefix}constant", 1, False)
                elif attr.name in ("value_ints", "value_strings"):
                    count.add(f"{prefix}constant", len(attr.ints) + len(attr.strings), False)
        elif node.domain == _ML_DOMAIN:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.FLOATS:
                    count.add("ml-attribute", len(attr.floats), True)
                elif attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type in _FLOATING:
                    count.add("ml-attribute", _tensor_elements(attr.t), True)


def count_weights(model: onnx.ModelProto) -> WeightCount:
    """Count the stored elements of ``model`` (external data is not read: dims suffice)."""
    count = WeightCount()
    for graph, depth in iter_graphs(model.graph):
        prefix = "subgraph-" if depth else ""
        for init in graph.initializer:
            count.add(f"{prefix}initializer", _tensor_elements(init), init.data_type in _FLOATING)
        _count_nodes(graph.node, prefix, count)
    for function in model.functions:
        _count_nodes(function.node, "function-", count)
        for node in function.node:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    for graph, _ in iter_graphs(attr.g):
                        for init in graph.initializer:
                            count.add("subgraph-initializer", _tensor_elements(init), init.data_type in _FLOATING)
                        _count_nodes(graph.node, "subgraph-", count)
    return count
