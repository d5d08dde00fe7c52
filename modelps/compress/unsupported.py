"""The error of the PyTorch executor (:mod:`modelps.compress.torch_ops`) for what it cannot run."""

from __future__ import annotations

__all__ = ["UnsupportedOp"]


class UnsupportedOp(ValueError):
    """The graph uses an op (or an op attribute) the PyTorch executor does not run."""
