"""Errors raised by the serving package (all are :class:`~modelps.errors.ModelPSError`)."""

from __future__ import annotations

from modelps.errors import ModelPSError

__all__ = ["BackendUnavailableError", "BuildError", "ConfigError", "RepositoryError", "ServingError"]


class ServingError(ModelPSError):
    """Base class of serving errors."""


class BackendUnavailableError(ServingError):
    """A backend's libraries (onnxruntime-gpu, tensorrt, cuda-python) or a GPU are missing."""


class BuildError(ServingError):
    """A model cannot be built for the requested backend with the given options."""


class ConfigError(ServingError):
    """A ``config.pbtxt`` cannot be parsed or describes something ModelPS cannot serve."""


class RepositoryError(ServingError):
    """A model repository folder is missing, malformed, or lacks the requested model/version."""
