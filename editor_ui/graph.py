"""Tensor shapes and element types as the editor shows them, declared or found by shape inference.

Example::

    >>> v = ir.Value(name="t", shape=ir.Shape([1, "batch", 3]), type=ir.TensorType(ir.DataType.FLOAT))
    >>> shape_text(v), dtype_text(v)
    ('1×batch×3', 'float')
"""

from __future__ import annotations

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
    for node in model.graph:
        for value in node.outputs:
            if value.shape is None or value.dtype is None:
                return False
    return True


def inferred_types(model: ir.Model) -> Types:
    """Types and shapes from ONNX shape inference, for models that do not declare them all (else ``{}``)."""
    if _complete(model):
        return {}
    from modelps.validate import infer_value_types

    try:
        return infer_value_types(model)
    except Exception:  # inference is best effort: unknown types stay "?"
        return {}
