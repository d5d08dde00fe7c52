"""Edit forms derived from the edit registry: one field per edit parameter, parsed back to recipe JSON.

Every registered edit gets a form without UI code of its own: :func:`form_fields` describes each
parameter (its widget kind, whether it is required, its default, and whether it names a node or a
tensor so the page can offer a picker), and :func:`parse_form` turns the typed text back into an edit
dict. The edit registry then validates it (:func:`modelps.edits.edit_from_dict`), so types are checked
in one place.

Example::

    >>> fields = {f.name: f for f in form_fields("set_attribute")}
    >>> fields["node"].kind, fields["node"].picker, fields["value"].kind
    ('text', 'node', 'json')
    >>> parse_form("set_attribute", {"node": "n0", "name": "alpha", "value": "0.2", "type": ""})
    {'op': 'set_attribute', 'node': 'n0', 'name': 'alpha', 'value': 0.2}
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from modelps.edits import available_edits, edit_from_dict
from modelps.errors import EditError

__all__ = ["FormField", "edit_doc", "edit_names", "form_fields", "parse_form", "prefill"]

Kind = Literal["text", "int", "float", "bool", "json", "choice"]

_NODE_PARAMS = {"node", "nodes", "after", "before", "start_node", "end_node"}
_TENSOR_PARAMS = {"tensor", "tensors", "input", "output", "value", "initializer", "inputs", "outputs", "name_of"}


@dataclasses.dataclass(frozen=True)
class FormField:
    """One form field for one edit parameter."""

    name: str
    kind: Kind
    required: bool
    default: Any
    choices: tuple[Any, ...] = ()
    picker: Literal["node", "tensor", ""] = ""
    help: str = ""


def edit_names() -> list[str]:
    """Names of every registered edit, sorted."""
    return sorted(available_edits())


def edit_doc(op: str) -> str:
    """Return the edit's docstring (what it handles and refuses), for the form's help text."""
    doc = available_edits()[op].__doc__ or ""
    return " ".join(doc.split())


def _kind(hint: Any) -> tuple[Kind, tuple[Any, ...]]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _kind(rest[0])
        return "json", ()
    if origin is Literal:
        return "choice", args
    if hint is bool:
        return "bool", ()
    if hint is int:
        return "int", ()
    if hint is float:
        return "float", ()
    if hint is str:
        return "text", ()
    return "json", ()


def form_fields(op: str) -> list[FormField]:
    """Return the fields of edit ``op``'s form, in parameter order."""
    cls = available_edits()[op]
    hints = typing.get_type_hints(cls)
    fields = []
    for field in dataclasses.fields(cls):
        kind, choices = _kind(hints[field.name])
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = None
        picker: Literal["node", "tensor", ""] = ""
        if field.name in _NODE_PARAMS:
            picker = "node"
        elif field.name in _TENSOR_PARAMS and kind == "text":
            picker = "tensor"
        help_text = "JSON value (number, string in quotes, list, object, or null)" if kind == "json" else ""
        fields.append(FormField(field.name, kind, required, default, choices, picker, help_text))
    return fields


def _parse_json(op: str, name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if text and text[0] not in '[{"' and not text[0].isdigit() and text[0] != "-":
            return text  # a bare word: take it as a string
        raise EditError(f"parameter {name!r}: not valid JSON: {text!r}", op=op) from None


def parse_form(op: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a form's raw values into an edit dict, validated by the edit registry.

    Empty optional fields are left out (the edit's default applies); ``json`` fields are parsed.

    Raises:
        EditError: A required field is empty, JSON does not parse, or a value has the wrong type
            (the message names the parameter).
    """
    data: dict[str, Any] = {"op": op}
    for field in form_fields(op):
        raw = values.get(field.name)
        if isinstance(raw, str):
            raw = raw.strip()
        if raw is None or raw == "":
            if field.required:
                raise EditError(f"parameter {field.name!r} is required", op=op)
            continue
        if field.kind == "json" and isinstance(raw, str):
            raw = _parse_json(op, field.name, raw)
        elif field.kind == "int" and isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if not field.required and raw == field.default:
            continue
        data[field.name] = raw
    edit_from_dict(data)  # type and name checks, same as for a recipe
    return data


def prefill(op: str, node: str | None, tensor: str | None) -> dict[str, str]:
    """Return initial text for a form: the selected node/tensor in picker fields, defaults elsewhere."""
    values: dict[str, str] = {}
    for field in form_fields(op):
        if field.picker == "node" and node and field.name == "node":
            values[field.name] = node
        elif field.picker == "tensor" and tensor:
            values[field.name] = tensor
        elif field.default is not None and field.kind in ("json",):
            values[field.name] = json.dumps(field.default)
        elif field.default is not None:
            values[field.name] = field.default
        else:
            values[field.name] = ""
    return values
