"""What the PyTorch executor's op functions share: their error and attribute access."""

from __future__ import annotations

from typing import Any

import onnx_ir as ir

__all__ = ["UnsupportedOp", "attr"]


class UnsupportedOp(ValueError):
    """The graph uses an op (or an op attribute) the PyTorch executor does not run."""


def attr(node: ir.Node, name: str, default: Any = None) -> Any:
    """The value of the node's attribute ``name`` (``default`` when it is not set)."""
    found = node.attributes.get(name)
    return default if found is None else found.value
