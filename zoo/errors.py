"""Errors raised by the zoo; all are :class:`~modelps.errors.ModelPSError` subclasses."""

from __future__ import annotations

from modelps.errors import ModelPSError

__all__ = ["CheckpointError", "ExportError", "UnknownModelError", "ZooError"]


class ZooError(ModelPSError):
    """Base class of zoo errors."""


class UnknownModelError(ZooError):
    """A model name that is not in the zoo."""


class CheckpointError(ZooError):
    """A checkpoint cannot be loaded into a zoo model (unreadable, missing or mismatched keys)."""


class ExportError(ZooError):
    """Export to ONNX failed or the exported model does not reproduce the torch output."""
