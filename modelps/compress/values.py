"""What the graph says about its values: element types and shapes after shape inference, constant data."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir

__all__ = ["const_array", "inferred_types", "static_shapes"]


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
