"""``rename``: rename a tensor, a node, a graph input or a graph output."""

from __future__ import annotations

import dataclasses
from typing import Literal

from modelps.edits._base import Edit, register
from modelps.edits._lookup import find_node, find_value, iter_values
from modelps.tape import Tape

__all__ = ["Rename"]


@register
@dataclasses.dataclass(frozen=True)
class Rename(Edit):
    """Rename ``old`` to ``new``; ``kind`` says whether it is a tensor, node, input or output.

    ``input`` and ``output`` are tensors that must be graph inputs or outputs (renaming them
    changes the model's interface; the computation is unchanged). Refuses an unknown name, an
    empty name, and a new name already used by another tensor (or node, for nodes).
    """

    op = "rename"
    preserves_function = True
    kind: Literal["tensor", "node", "input", "output"]
    old: str
    new: str

    def apply(self, tape: Tape) -> None:
        graph = tape.graph
        if not self.new:
            raise self.fail("the new name is empty")
        if self.kind == "node":
            node = find_node(graph, self.old, self.op)
            if any(n.name == self.new for n in graph if n is not node):
                raise self.fail(f"a node named {self.new!r} already exists")
            tape.rename_node(node, self.new)
            return
        value = find_value(graph, self.old, self.op)
        if self.kind == "input" and not value.is_graph_input():
            raise self.fail(f"tensor {self.old!r} is not a graph input")
        if self.kind == "output" and not value.is_graph_output():
            raise self.fail(f"tensor {self.old!r} is not a graph output")
        if any(v.name == self.new for v in iter_values(graph) if v is not value):
            raise self.fail(f"a tensor named {self.new!r} already exists")
        tape.rename_value(value, self.new)
