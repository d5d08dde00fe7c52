"""Converting JSON values to ONNX attributes."""

from __future__ import annotations

from typing import Any

import onnx_ir as ir

from modelps.errors import EditError

__all__ = ["ATTRIBUTE_TYPES", "make_attr"]

ATTRIBUTE_TYPES = {
    "int": ir.AttributeType.INT,
    "float": ir.AttributeType.FLOAT,
    "string": ir.AttributeType.STRING,
    "ints": ir.AttributeType.INTS,
    "floats": ir.AttributeType.FLOATS,
    "strings": ir.AttributeType.STRINGS,
}


def _guess(value: Any) -> ir.AttributeType:
    if isinstance(value, bool):
        return ir.AttributeType.INT
    if isinstance(value, int):
        return ir.AttributeType.INT
    if isinstance(value, float):
        return ir.AttributeType.FLOAT
    if isinstance(value, str):
        return ir.AttributeType.STRING
    if isinstance(value, (list, tuple)) and value:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return ir.AttributeType.INTS
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return ir.AttributeType.FLOATS
        if all(isinstance(v, str) for v in value):
            return ir.AttributeType.STRINGS
    raise ValueError(f'cannot tell the attribute type of {value!r}; give "type" explicitly')


def make_attr(name: str, value: Any, type_: str | ir.AttributeType | None, op: str) -> ir.Attr:
    """Build attribute ``name`` from a JSON ``value``, as ``type_`` if given, else guessed.

    Raises:
        EditError: The value does not fit the type, or the type cannot be guessed.
    """
    try:
        if isinstance(type_, str):
            if type_ not in ATTRIBUTE_TYPES:
                raise ValueError(f"attribute type {type_!r} is not one of {sorted(ATTRIBUTE_TYPES)}")
            kind = ATTRIBUTE_TYPES[type_]
        else:
            kind = type_ if type_ is not None else _guess(value)
        return ir.Attr(name, kind, _convert(value, kind))
    except (ValueError, TypeError) as exc:
        raise EditError(f"attribute {name!r}: {exc}", op=op) from None


def _convert(value: Any, kind: ir.AttributeType) -> Any:
    scalar = {ir.AttributeType.INT: int, ir.AttributeType.FLOAT: float, ir.AttributeType.STRING: str}
    listed = {ir.AttributeType.INTS: int, ir.AttributeType.FLOATS: float, ir.AttributeType.STRINGS: str}
    if kind in scalar:
        if isinstance(value, (list, tuple, dict)):
            raise ValueError(f"expected a single {kind.name.lower()}, got {value!r}")
        if kind == ir.AttributeType.INT and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"expected an integer, got {value!r}")
        if kind == ir.AttributeType.STRING and not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return scalar[kind](value)
    if kind in listed:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list, got {value!r}")
        return [_convert(v, _SCALAR_OF[kind]) for v in value]
    raise ValueError(f"attribute type {kind.name} cannot be set from JSON")


_SCALAR_OF = {
    ir.AttributeType.INTS: ir.AttributeType.INT,
    ir.AttributeType.FLOATS: ir.AttributeType.FLOAT,
    ir.AttributeType.STRINGS: ir.AttributeType.STRING,
}
