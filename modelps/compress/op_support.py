"""What the PyTorch executor's op functions share: their error, attribute access and integer lists."""

from __future__ import annotations

from typing import Any

import onnx_ir as ir

__all__ = ["UnsupportedOp", "attr", "ints"]


class UnsupportedOp(ValueError):
    """The graph uses an op (or an op attribute) the PyTorch executor does not run."""


def attr(node: ir.Node, name: str, default: Any = None) -> Any:
    """The value of the node's attribute ``name`` (``default`` when it is not set)."""
    found = node.attributes.get(name)
    return default if found is None else found.value


def ints(x: Any) -> list[int]:
    """A 1-D tensor, array or sequence of integers as a list of Python ints (shapes, axes, pads)."""
    return [int(v) for v in (x.tolist() if hasattr(x, "tolist") else x)]
