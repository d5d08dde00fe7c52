"""``add_output``: expose an intermediate tensor as a graph output."""

from __future__ import annotations

import dataclasses

from modelps.edits._base import Edit, register
from modelps.edits._lookup import ensure_type, find_value
from modelps.tape import Tape

__all__ = ["AddOutput"]


@register
@dataclasses.dataclass(frozen=True)
class AddOutput(Edit):
    """Add tensor ``tensor`` to the graph outputs (after the existing ones).

    Handles any node output, graph input or initializer; a tensor without a declared type gets
    the type and shape that shape inference finds. Refuses a tensor that is already an output,
    or one whose type cannot be inferred.
    """

    op = "add_output"
    preserves_function = True
    tensor: str

    def apply(self, tape: Tape) -> None:
        graph = tape.graph
        value = find_value(graph, self.tensor, self.op)
        if value.is_graph_output():
            raise self.fail(f"tensor {self.tensor!r} is already a graph output")
        ensure_type(tape, value, self.op)
        tape.set_list(graph.outputs, [*graph.outputs, value])
