"""``set_attribute``: set, change or delete one attribute of a node."""

from __future__ import annotations

import dataclasses
from typing import Any

from modelps.edits._attrs import make_attr
from modelps.edits._base import Edit, register
from modelps.edits._lookup import find_node
from modelps.tape import Tape

__all__ = ["SetAttribute"]


@register
@dataclasses.dataclass(frozen=True)
class SetAttribute(Edit):
    """Set attribute ``name`` of node ``node`` to ``value`` (``null`` deletes it).

    Handles int, float, string and list attributes; an existing attribute keeps its type (an
    ``int`` given for a float attribute becomes a float), a new one takes ``type`` or the type of
    the JSON value. Refuses unknown nodes, values that do not fit the type, deleting an attribute
    that is not there, and graph attributes. Whether the operator accepts the attribute is checked
    by the validation that follows every edit.
    """

    op = "set_attribute"
    node: str
    name: str
    value: Any = None
    type: str | None = None

    def apply(self, tape: Tape) -> None:
        node = find_node(tape.graph, self.node, self.op)
        existing = node.attributes.get(self.name)
        if self.value is None:
            if existing is None:
                raise self.fail(f"node {self.node!r} has no attribute {self.name!r} to delete")
            tape.set_attribute(node, self.name, None)
            return
        kind = self.type if self.type is not None else (existing.type if existing is not None else None)
        tape.set_attribute(node, self.name, make_attr(self.name, self.value, kind, self.op))
