"""``replace_op``: change a node's operator type (and domain), optionally its attributes."""

from __future__ import annotations

import dataclasses
from typing import Any

import onnx
import onnx_ir as ir

from modelps.edits._attrs import make_attr
from modelps.edits._base import Edit, register
from modelps.edits._graphs import has_subgraphs, refresh_types
from modelps.edits._lookup import find_node
from modelps.errors import EditError
from modelps.tape import Tape

__all__ = ["ReplaceOp", "check_arity", "make_node_attrs", "op_schema"]


def op_schema(op_type: str, domain: str, version: int) -> onnx.defs.OpSchema | None:
    """Return the schema of ``domain::op_type`` at opset ``version``, or ``None`` if ONNX does not know it."""
    try:
        return onnx.defs.get_schema(op_type, version, domain)
    except onnx.defs.SchemaError:
        return None


@register
@dataclasses.dataclass(frozen=True)
class ReplaceOp(Edit):
    """Make node ``node`` a ``domain::op_type`` node with the same inputs and outputs.

    With ``attributes`` (a JSON object) the node's attributes are replaced by exactly those, typed
    by the new operator's schema where ONNX has one; without it they are kept. Declared types
    downstream of the node are re-inferred, since the new operator may change them (e.g. ``Relu``
    to ``Shape``). A custom domain not yet imported is imported at version 1.

    Refuses: an unknown node, a node holding subgraphs, the same operator with no attribute
    change, an operator the model's ONNX opset does not define, and input or output counts that
    the new operator's schema cannot take (e.g. ``Relu`` -> ``Add``: one input, two needed). Custom
    domains are not checked here; whether attributes and types fit is checked by the validation
    that follows every edit.
    """

    op = "replace_op"
    node: str
    op_type: str
    domain: str | None = None
    attributes: dict[str, Any] | None = None

    def apply(self, tape: Tape) -> None:
        """Apply the edit through ``tape`` (see the class docstring)."""
        node = find_node(tape.graph, self.node, self.op)
        domain = node.domain if self.domain is None else self.domain
        if not self.op_type:
            raise self.fail("op_type is empty")
        if has_subgraphs(node):
            raise self.fail(f"node {self.node!r} ({node.op_type}) holds subgraphs and cannot change operator")
        if self.op_type == node.op_type and domain == node.domain and self.attributes is None:
            raise self.fail(f"node {self.node!r} is already {self.op_type}")
        counts = (len(node.inputs), len(node.outputs))
        check_arity(tape.model, self.op_type, domain, counts, f"node {self.node!r}", self.op)
        if domain and domain not in tape.model.opset_imports:
            tape.set_opset(domain, 1)
        tape.set_op(node, self.op_type, domain)
        if self.attributes is not None:
            for name in sorted(node.attributes):
                tape.set_attribute(node, name, None)
            for attr in make_node_attrs(tape.model, self.op_type, domain, self.attributes, self.op):
                tape.set_attribute(node, attr.name, attr)
        refresh_types(tape, node.outputs)


def make_node_attrs(model: ir.Model, op_type: str, domain: str, values: dict[str, Any], op: str) -> list[ir.Attr]:
    """Build a node's attributes from JSON, typed by the operator's schema where ONNX knows it.

    With the schema, ``{"alpha": 1}`` for ``LeakyRelu`` becomes a float attribute; without one
    (custom domains, unknown names) the type is guessed from the JSON value.

    Raises:
        EditError: A value does not fit its type.
    """
    schema = None
    version = model.opset_imports.get("", model.opset_imports.get("ai.onnx"))
    if domain in ("", "ai.onnx") and version is not None:
        schema = op_schema(op_type, "", version)
    attrs = []
    for name, value in sorted(values.items()):
        kind = None
        if schema is not None and name in schema.attributes:
            kind = _SCHEMA_ATTR_TYPES.get(schema.attributes[name].type.name)
        attrs.append(make_attr(name, value, kind, op))
    return attrs


_SCHEMA_ATTR_TYPES = {
    "INT": "int",
    "FLOAT": "float",
    "STRING": "string",
    "INTS": "ints",
    "FLOATS": "floats",
    "STRINGS": "strings",
}


def check_arity(model: ir.Model, op_type: str, domain: str, counts: tuple[int, int], where: str, op: str) -> None:
    """Check that default-domain ``op_type`` exists in the model's opset and takes ``counts`` (inputs, outputs).

    Raises:
        EditError: The operator is unknown, or ``where`` has an input or output count it cannot take.
    """
    if domain not in ("", "ai.onnx"):
        return
    version = model.opset_imports.get("", model.opset_imports.get("ai.onnx"))
    if version is None:
        return
    schema = op_schema(op_type, "", version)
    if schema is None:
        raise EditError(f"ONNX opset {version} has no operator {op_type!r}", op=op)
    n_in, n_out = counts
    if not schema.min_input <= n_in <= schema.max_input:
        raise EditError(
            f"{op_type} takes {_span(schema.min_input, schema.max_input)} input(s); {where} has {n_in}", op=op
        )
    if not schema.min_output <= n_out <= schema.max_output:
        raise EditError(
            f"{op_type} gives {_span(schema.min_output, schema.max_output)} output(s); {where} has {n_out}", op=op
        )


def _span(low: int, high: int) -> str:
    if low == high:
        return str(low)
    if high >= 2**31 - 1:
        return f"{low} or more"
    return f"{low} to {high}"
