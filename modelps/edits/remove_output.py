"""``remove_output``: stop exposing a graph output, and drop what only fed it."""

from __future__ import annotations

import dataclasses

import onnx_ir as ir

from modelps.edits._base import Edit, register
from modelps.tape import Tape

__all__ = ["RemoveOutput", "remove_dead_nodes"]


def remove_dead_nodes(tape: Tape) -> int:
    """Remove nodes (and initializers) whose results reach no graph output; return how many nodes."""
    graph = tape.graph
    removed = 0
    for node in reversed(list(graph)):
        if any(out.uses() or out.is_graph_output() for out in node.outputs):
            continue
        inputs = [v for v in node.inputs if v is not None]
        tape.remove_node(node)
        removed += 1
        for value in inputs:
            if (
                value.is_initializer()
                and not value.uses()
                and not value.is_graph_output()
                and not value.is_graph_input()
            ):
                tape.remove_initializer(value)
    return removed


@register
@dataclasses.dataclass(frozen=True)
class RemoveOutput(Edit):
    """Remove graph output ``output``.

    With ``prune`` (the default) the nodes and initializers that fed only this output are removed
    too. Refuses an unknown output name and removing the last output.
    """

    op = "remove_output"
    preserves_function = True
    output: str
    prune: bool = True

    def apply(self, tape: Tape) -> None:
        graph = tape.graph
        keep: list[ir.Value] = [v for v in graph.outputs if v.name != self.output]
        if len(keep) == len(graph.outputs):
            names = [v.name for v in graph.outputs]
            raise self.fail(f"no graph output named {self.output!r}; outputs are {names}")
        if not keep:
            raise self.fail(f"{self.output!r} is the only output; a model needs at least one")
        tape.set_list(graph.outputs, keep)
        if self.prune:
            remove_dead_nodes(tape)
