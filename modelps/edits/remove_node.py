"""``remove_node``: delete a pass-through node and rewire its consumers to its input."""

from __future__ import annotations

import dataclasses

import onnx_ir as ir

from modelps.edits._base import Edit, register
from modelps.edits._lookup import ensure_type, find_node
from modelps.tape import Tape

__all__ = ["RemoveNode"]


def is_constant(value: ir.Value | None) -> bool:
    """Whether a tensor is an initializer or the output of a ``Constant`` node."""
    if value is None:
        return True
    producer = value.producer()
    return value.is_initializer() or (producer is not None and producer.op_type == "Constant")


@register
@dataclasses.dataclass(frozen=True)
class RemoveNode(Edit):
    """Remove node ``node``.

    Handles:
      * a node with one non-constant input and one used output (Identity, Dropout, Relu, a
        Reshape that is not needed, ...): its consumers and graph outputs are rewired to the input;
        a graph output keeps its name;
      * a node none of whose outputs are used (a dead branch end);
      * initializers that only this node used are dropped with it.

    Refuses:
      * nodes with several non-constant inputs or several used outputs (rewiring is ambiguous);
      * nodes with subgraphs (``If``/``Loop``/``Scan``);
      * rewiring that would change a tensor's element type (e.g. removing a ``Cast``);
      * a node that connects a graph input straight to a graph output.
    """

    op = "remove_node"
    node: str

    def apply(self, tape: Tape) -> None:
        graph = tape.graph
        node = find_node(graph, self.node, self.op)
        if any(attr.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS) for attr in node.attributes.values()):
            raise self.fail(f"node {self.node!r} ({node.op_type}) holds subgraphs; remove it with extract instead")
        used = [out for out in node.outputs if out.uses() or out.is_graph_output()]
        consts = [v for v in node.inputs if v is not None and is_constant(v)]
        if used:
            self._rewire(tape, node, used)
        tape.remove_node(node)
        for value in consts:
            if (
                value.is_initializer()
                and not value.uses()
                and not value.is_graph_input()
                and not value.is_graph_output()
            ):
                tape.remove_initializer(value)

    def _rewire(self, tape: Tape, node: ir.Node, used: list[ir.Value]) -> None:
        data = [v for v in node.inputs if v is not None and not is_constant(v)]
        if len(used) > 1:
            names = [v.name for v in used]
            raise self.fail(f"node {self.node!r} has {len(used)} used outputs {names}; rewiring is ambiguous")
        if len(data) != 1:
            names = [v.name for v in data]
            raise self.fail(
                f"node {self.node!r} has {len(data)} non-constant inputs {names}; "
                "only single-input nodes can be rewired"
            )
        source, output = data[0], used[0]
        if source.dtype is not None and output.dtype is not None and source.dtype != output.dtype:
            raise self.fail(
                f"removing {self.node!r} would change tensor {output.name!r} "
                f"from {output.dtype.name} to {source.dtype.name}"
            )
        if output.is_graph_output():
            self._keep_output_name(tape, source, output)
        tape.replace_uses(output, source)

    def _keep_output_name(self, tape: Tape, source: ir.Value, output: ir.Value) -> None:
        if source.is_graph_input() or source.is_initializer() or source.is_graph_output():
            raise self.fail(
                f"node {self.node!r} connects {source.name!r} straight to graph output {output.name!r}; "
                "it cannot be removed without renaming the model's interface"
            )
        name = output.name
        assert name is not None
        ensure_type(tape, source, self.op)
        tape.rename_value(output, f"{name}__removed")
        tape.rename_value(source, name)
