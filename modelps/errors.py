"""Exception types raised by ModelPS.

Every error a user can cause is a :class:`ModelPSError`; its message says what is wrong and where
(node name, tensor name, file). The CLI prints the message on one line and exits non-zero.
"""

from __future__ import annotations

__all__ = [
    "ComparisonError",
    "EditError",
    "ModelLoadError",
    "ModelPSError",
    "ModelSaveError",
    "RecipeError",
    "UnknownEditError",
    "UnsafeModelError",
    "ValidationError",
    "first_line",
]


class ModelPSError(Exception):
    """Base class of every error ModelPS raises on purpose."""


class ModelLoadError(ModelPSError):
    """A model file cannot be read: missing, truncated, not ONNX, or inconsistent."""


class UnsafeModelError(ModelLoadError):
    """A model refers to data outside its folder, or declares data it does not have."""


class ModelSaveError(ModelPSError):
    """A model cannot be written where or how it was asked."""


class EditError(ModelPSError):
    """An edit was refused; the model is unchanged.

    Attributes:
        op: The edit's name (``remove_node``, ...), or ``None`` before it is known.
        reason: Why the edit cannot be applied, in words a UI can show.
    """

    def __init__(self, reason: str, *, op: str | None = None) -> None:
        self.op = op
        self.reason = reason
        super().__init__(f"{op}: {reason}" if op else reason)


class UnknownEditError(EditError):
    """A recipe or caller named an edit that is not registered."""


class RecipeError(ModelPSError):
    """A recipe document is malformed or does not belong to the model."""


class ValidationError(ModelPSError):
    """A model fails a validation check (structure, checker, shape inference, runtime)."""


class ComparisonError(ModelPSError):
    """Two models cannot be compared (different signatures, unusable inputs)."""


def first_line(exc: BaseException, limit: int = 3) -> str:
    r"""An exception's message on one line: its first non-blank lines (at most ``limit``), joined.

    Example::

        >>> error = ValueError("bad input\n  at node n3\n\n  details\n  more")
        >>> first_line(error), first_line(error, 1), first_line(KeyError())
        ('bad input at node n3 details', 'bad input', 'KeyError')
    """
    text = str(exc).strip() or type(exc).__name__
    return " ".join([line.strip() for line in text.splitlines() if line.strip()][:limit])
