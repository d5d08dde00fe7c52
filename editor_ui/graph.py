"""Tensor shapes and element types as the editor shows them, declared or found by shape inference.

Example::

    >>> v = ir.Value(name="t", shape=ir.Shape([1, "batch", 3]), type=ir.TensorType(ir.DataType.FLOAT))
    >>> shape_text(v), dtype_text(v)
    ('1×batch×3', 'float')
"""

from __future__ import annotations

import onnx
import onnx_ir as ir

__all__ = ["dims_text", "dtype_text", "inferred_types", "shape_text"]

Types = dict[str, tuple[ir.TypeProtocol, ir.Shape | None]]


def dims_text(shape: ir.Shape | None) -> str:
    """A shape as text: ``1×64×56×56``, ``scalar``, or ``?`` when unknown."""
    if shape is None:
        return "?"
    dims = [str(d) if isinstance(d, int) else (str(d.value) if d.value is not None else "?") for d in shape]
    return "×".join(dims) if dims else "scalar"


def shape_text(value: ir.Value | None, types: Types | None = None) -> str:
    """A tensor's shape as text, from its declaration or else from ``types`` (shape inference)."""
    if value is None:
        return "?"
    if value.shape is None and types and value.name in types:
        return dims_text(types[value.name][1])
    return dims_text(value.shape)


def dtype_text(value: ir.Value | None, types: Types | None = None) -> str:
    """A tensor's element type in lower case (``float``, ``int64``), or ``?`` when nobody knows it."""
    if value is None:
        return "?"
    dtype = value.dtype
    if dtype is None and types and value.name in types:
        dtype = getattr(types[value.name][0], "dtype", None)
    return dtype.name.lower() if dtype is not None else "?"


def _complete(model: ir.Model) -> bool:
    for graph in model.graphs():
        for node in graph:
            for value in node.outputs:
                if value.shape is None or value.dtype is None:
                    return False
    return True


def _subgraph_types(graph: onnx.GraphProto, found: Types) -> None:
    """Add the inferred types of values inside If/Loop/Scan bodies (the core reads the main graph only)."""
    for node in graph.node:
        for attr in node.attribute:
            for body in [attr.g] if attr.HasField("g") else list(attr.graphs):
                for info in [*body.value_info, *body.output]:
                    if info.name not in found and info.type.HasField("tensor_type") and info.type.tensor_type.elem_type:
                        type_ = ir.serde.deserialize_type_proto_for_type(info.type)
                        if type_ is not None:
                            found[info.name] = (type_, ir.serde.deserialize_type_proto_for_shape(info.type))
                _subgraph_types(body, found)


def inferred_types(model: ir.Model) -> Types:
    """Types and shapes from ONNX shape inference (subgraphs included) for models that do not declare them all.

    ``{}`` when every tensor is declared, or when inference fails (types then stay ``?``).
    """
    if _complete(model):
        return {}
    from modelps.validate import checkable_proto, types_from_proto

    try:
        inferred = onnx.shape_inference.infer_shapes(checkable_proto(model), data_prop=True)
    except Exception:  # inference is best effort
        return {}
    found = types_from_proto(inferred)
    _subgraph_types(inferred.graph, found)
    return found
