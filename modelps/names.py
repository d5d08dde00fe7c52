"""How nodes without a name are referred to: ``n<index>`` in the main graph's order."""

from __future__ import annotations

import onnx_ir as ir

__all__ = ["node_key"]


def node_key(node: ir.Node, index: int) -> str:
    """The node's name, or ``n<index>`` for an unnamed node (the name :class:`~modelps.Model` gives it)."""
    return node.name or f"n{index}"
