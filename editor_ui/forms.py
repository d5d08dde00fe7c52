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
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from modelps.edits import available_edits, edit_from_dict
from modelps.errors import EditError

__all__ = ["FormField", "Selection", "edit_doc", "edit_names", "form_fields", "parse_form", "parse_shape", "prefill"]

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


def parse_shape(text: str) -> list[int | str]:
    """Parse a shape typed by hand: ``1,3,256,128``, ``[1,3,256,128]``, ``batch,3,h,w`` or ``1×3×256×128``.

    Numbers become ints; anything else is a symbolic dimension name.

    >>> parse_shape("1,3,256,128"), parse_shape("[1, 3, 256, 128]"), parse_shape("batch,3,h,w")
    ([1, 3, 256, 128], [1, 3, 256, 128], ['batch', 3, 'h', 'w'])
    >>> parse_shape('["N", 3]'), parse_shape("1x3x8x8"), parse_shape("()")
    (['N', 3], [1, 3, 8, 8], [])

    Raises:
        EditError: A dimension is empty (``1,,3``) or not a number or a name.
    """
    body = text.strip().strip("[]()").strip()
    if not body:
        return []
    parts = body.split(",") if "," in body else re.split(r"\s*[x×*]\s*|\s+", body)
    dims: list[int | str] = []
    for part in parts:
        token = part.strip().strip("'\"")
        if re.fullmatch(r"-?\d+", token):
            dims.append(int(token))
        elif re.fullmatch(r"[A-Za-z_][\w.:-]*", token):
            dims.append(token)
        else:
            raise EditError(f"parameter 'shape': cannot read {part.strip()!r} in {text!r}", op="set_input_shape")
    return dims


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
        if field.name == "shape" and field.kind == "json" and isinstance(raw, str):
            raw = parse_shape(raw)
        elif field.kind == "json" and isinstance(raw, str):
            raw = _parse_json(op, field.name, raw)
        elif field.kind == "int" and isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if not field.required and raw == field.default:
            continue
        data[field.name] = raw
    edit_from_dict(data)  # type and name checks, same as for a recipe
    return data


@dataclasses.dataclass(frozen=True)
class Selection:
    """What the user pointed at: a node, the tensors picked, the model's inputs and a node's outputs."""

    node: str | None = None
    tensors: tuple[str, ...] = ()
    node_outputs: tuple[str, ...] = ()
    node_inputs: tuple[str, ...] = ()
    model_inputs: tuple[str, ...] = ()


def prefill(op: str, node: str | None, tensor: str | None, selection: Selection | None = None) -> dict[str, str]:
    """Initial text for edit ``op``'s form, from the selection.

    Node fields get the selected node; tensor fields the picked tensor, else the node's first output
    (its input for ``remove_output``/``set_input_shape`` when it has none); ``set_input_shape`` takes the
    model's only input when nothing else applies; ``extract`` takes two picked tensors as its inputs and
    outputs; other fields show their defaults.

    >>> prefill("set_input_shape", None, None, Selection(model_inputs=("x",)))["input"]
    'x'
    >>> prefill("extract", None, None, Selection(tensors=("a", "b")))
    {'inputs': '["a"]', 'outputs': '["b"]'}
    >>> prefill("add_output", "n3", None, Selection(node="n3", node_outputs=("t3",)))["tensor"]
    't3'
    """
    sel = selection or Selection(node=node, tensors=(tensor,) if tensor else ())
    node = node or sel.node
    picked = tensor or (sel.tensors[-1] if sel.tensors else None)
    values: dict[str, str] = {}
    for field in form_fields(op):
        if field.picker == "node" and node and field.name == "node":
            values[field.name] = node
        elif field.picker == "tensor":
            guess = picked or (sel.node_outputs[0] if sel.node_outputs else None)
            if op == "set_input_shape":
                guess = next((t for t in (picked, *sel.node_inputs) if t in sel.model_inputs), None)
                if guess is None and len(sel.model_inputs) == 1:
                    guess = sel.model_inputs[0]
            values[field.name] = guess or ""
        elif op == "extract" and field.name in ("inputs", "outputs") and len(sel.tensors) == 2:
            values[field.name] = json.dumps([sel.tensors[0] if field.name == "inputs" else sel.tensors[1]])
        elif field.default is not None and field.kind in ("json",):
            values[field.name] = json.dumps(field.default)
        elif field.default is not None:
            values[field.name] = field.default
        else:
            values[field.name] = ""
    return values
