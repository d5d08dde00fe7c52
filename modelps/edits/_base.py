"""The edit base class, parameter validation and the edit registry.

An edit is a frozen dataclass whose fields are its parameters. Subclasses set ``op`` (the name used
in recipes), ``preserves_function`` (whether outputs stay numerically the same), and implement
:meth:`Edit.apply`, which changes the model only through a :class:`~modelps.tape.Tape` and raises
:class:`~modelps.errors.EditError` with a reason when the edit does not apply. Validation of the
result is done once, by :class:`~modelps.model.Model`, not by each edit.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from modelps.errors import EditError, UnknownEditError
from modelps.tape import Tape

__all__ = ["Edit", "available_edits", "edit_from_dict", "get_edit", "register"]

_REGISTRY: dict[str, type[Edit]] = {}
E = TypeVar("E", bound="type[Edit]")


@dataclasses.dataclass(frozen=True)
class Edit:
    """One change to a model, described by plain data so that it can be replayed."""

    op: ClassVar[str] = ""
    preserves_function: ClassVar[bool] = False

    def apply(self, tape: Tape) -> None:
        """Change the model through ``tape``; raise :class:`EditError` if the edit does not apply."""
        raise NotImplementedError

    def fail(self, reason: str) -> EditError:
        """Build the error for this edit with ``reason`` (``raise self.fail(...)``)."""
        return EditError(reason, op=self.op)

    def to_dict(self) -> dict[str, Any]:
        """The edit as recipe JSON: ``{"op": ..., **params}`` (parameters left at defaults omitted)."""
        data: dict[str, Any] = {"op": self.op}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.default is not dataclasses.MISSING and value == field.default:
                continue
            if field.default_factory is not dataclasses.MISSING and value == field.default_factory():
                continue
            data[field.name] = _plain(value)
        return data

    def describe(self) -> str:
        """A one-line human description, e.g. for a history panel."""
        params = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "op")
        return f"{self.op}({params})"


def register(cls: E) -> E:
    """Class decorator adding an edit to the registry under its ``op`` name."""
    if not cls.op:
        raise TypeError(f"{cls.__name__} has no op name")
    if cls.op in _REGISTRY and _REGISTRY[cls.op] is not cls:
        raise TypeError(f"edit {cls.op!r} is already registered")
    _REGISTRY[cls.op] = cls
    return cls


def available_edits() -> dict[str, type[Edit]]:
    """All registered edits by name (``modelps.edits`` registers the built-in ones when it is imported)."""
    return dict(sorted(_REGISTRY.items()))


def get_edit(op: str) -> type[Edit]:
    """Look up an edit class by name.

    Raises:
        UnknownEditError: No edit has that name; the message lists the known ones.
    """
    try:
        return _REGISTRY[op]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownEditError(f"unknown edit {op!r}; known edits: {known}") from None


def edit_from_dict(data: Mapping[str, Any]) -> Edit:
    """Build an edit from recipe JSON, validating parameter names and types.

    Raises:
        UnknownEditError: ``op`` names no registered edit.
        EditError: A parameter is missing, unknown, or of the wrong type.
    """
    if not isinstance(data, Mapping):
        raise EditError(f"an edit must be a JSON object, got {type(data).__name__}")
    op = data.get("op")
    if not isinstance(op, str):
        raise EditError('an edit needs an "op" string naming it')
    cls = get_edit(op)
    params = {k: v for k, v in data.items() if k != "op"}
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise EditError(f"unknown parameter(s) {unknown}; expected {sorted(fields)}", op=op)
    for name, field in fields.items():
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if name not in params:
            if required:
                raise EditError(f"missing parameter {name!r}", op=op)
            continue
        params[name] = _coerce(params[name], hints[name], f"parameter {name!r}", op)
    return cls(**params)


def _coerce(value: Any, hint: Any, where: str, op: str) -> Any:
    """Check ``value`` against a type hint, converting JSON lists to tuples where asked."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            try:
                return _coerce(value, arg, where, op)
            except EditError:
                continue
        raise EditError(f"{where} must be {_hint_name(hint)}, got {value!r}", op=op)
    if hint is type(None):
        if value is None:
            return None
        raise EditError(f"{where} must be null, got {value!r}", op=op)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise EditError(f"{where} must be a list, got {value!r}", op=op)
        item_hint = args[0] if args else Any
        items = tuple(_coerce(v, item_hint, f"{where} item", op) for v in value)
        return items if origin is tuple else list(items)
    if origin in (dict, Mapping) or hint is dict:
        if not isinstance(value, dict):
            raise EditError(f"{where} must be an object, got {value!r}", op=op)
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif typing.get_origin(hint) is typing.Literal:
        if value in args:
            return value
    else:
        return value
    raise EditError(f"{where} must be {_hint_name(hint)}, got {value!r}", op=op)


def _hint_name(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    return getattr(hint, "__name__", str(hint))


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
