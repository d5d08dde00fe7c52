"""The runner interface every backend implements.

A runner wraps one loaded model. It is a context manager: entering it activates the backend
(creates the session or execution context, allocates device buffers), leaving it frees them. The
expensive part happens in a *loader*, a callable the runner calls lazily on activation, so that
creating a runner never touches a GPU library.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from types import TracebackType

import numpy as np

from serving.config import TensorSpec

__all__ = ["InvalidInputError", "Runner"]


class InvalidInputError(ValueError):
    """The backend refused an input (a shape or value the model cannot take): the client's fault."""


class Runner(abc.ABC):
    """One model on one backend.

    Example::

        with OrtRunner(OrtSessionLoader("model.onnx")) as runner:
            outputs = runner.infer({"x": x}, ["y"])
    """

    name = "runner"

    def __init__(self) -> None:
        self.is_active = False

    def __enter__(self) -> Runner:
        self.activate()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.deactivate()

    def activate(self) -> None:
        """Load the model (idempotent)."""
        if not self.is_active:
            self._activate()
            self.is_active = True

    def deactivate(self) -> None:
        """Free the model (idempotent)."""
        if self.is_active:
            self.is_active = False
            self._deactivate()

    @abc.abstractmethod
    def _activate(self) -> None: ...

    @abc.abstractmethod
    def _deactivate(self) -> None: ...

    @property
    @abc.abstractmethod
    def inputs(self) -> list[TensorSpec]:
        """The model's inputs with full shapes (batch dim included; ``-1`` = dynamic)."""

    @property
    @abc.abstractmethod
    def outputs(self) -> list[TensorSpec]:
        """The model's outputs with full shapes."""

    @abc.abstractmethod
    def infer(self, feeds: Mapping[str, np.ndarray], output_names: Sequence[str]) -> dict[str, np.ndarray]:
        """Run the model once.

        Raises:
            InvalidInputError: The backend rejected the inputs.
        """
