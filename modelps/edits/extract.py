"""``extract``: keep only the subgraph between chosen input and output tensors."""

from __future__ import annotations

import dataclasses

import onnx_ir as ir

from modelps.edits._base import Edit, register
from modelps.edits._graphs import infer_types_of, inner_nodes
from modelps.edits._lookup import find_value
from modelps.tape import Tape

__all__ = ["Extract"]


def node_reads(node: ir.Node) -> list[ir.Value]:
    """Return the tensors a node reads: its inputs and the outer-scope tensors its subgraphs use."""
    reads = [v for v in node.inputs if v is not None]
    inner = list(inner_nodes(node))
    local = {id(n.graph) for n in inner}
    for sub in inner:
        reads.extend(v for v in sub.inputs if v is not None and (v.graph is None or id(v.graph) not in local))
    return reads


@register
@dataclasses.dataclass(frozen=True)
class Extract(Edit):
    """Keep the part of the model that computes ``outputs`` from ``inputs``.

    ``inputs`` and ``outputs`` are tensor names, in the order the new model's interface lists
    them. An input may be a graph input or any intermediate tensor (the nodes before it are cut
    away, and it becomes a graph input with its inferred type and shape); an output may be any
    tensor. Initializers and ``Constant`` nodes the kept nodes need stay; everything else,
    including ``If``/``Loop`` nodes that no output needs, is dropped. ``If``/``Loop`` nodes that are
    kept keep their subgraphs, and the tensors their bodies read from outside count as reads.
    Tensor and node names are kept. The model is rebuilt as a whole (undo swaps it back).

    Refuses: empty lists, unknown or repeated names, an initializer as an input, inputs that do
    not cut the graph (an output still depends on a graph input that is not listed; the message
    names it), an input that no output needs, and a tensor whose type cannot be inferred.
    """

    op = "extract"
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def apply(self, tape: Tape) -> None:
        """Apply the edit through ``tape`` (see the class docstring)."""
        self._check_names(tape.graph)
        untyped = {n for n in (*self.inputs, *self.outputs) if find_value(tape.graph, n, self.op).type is None}
        types = self._types(tape, untyped)
        model = tape.model.clone()
        graph = model.graph
        new_inputs = [self._as_input(graph, name, types) for name in self.inputs]
        by_name = {v.name: v for v in new_inputs}
        new_outputs = [by_name.get(name) or find_value(graph, name, self.op) for name in self.outputs]
        for value in new_outputs:
            if value.type is None:
                found = types.get(value.name or "")
                if found is None:
                    raise self.fail(f"the type of output {value.name!r} cannot be inferred")
                value.type, value.shape = found
        needed = self._needed(graph, new_inputs, new_outputs)
        for node in reversed(list(graph)):
            if id(node) not in needed:
                for dropped in [node, *inner_nodes(node)]:
                    for index in range(len(dropped.inputs)):
                        dropped.replace_input_with(index, None)
                graph.remove(node)
        graph.inputs.clear()
        graph.inputs.extend(new_inputs)
        graph.outputs.clear()
        graph.outputs.extend(new_outputs)
        for name, value in list(graph.initializers.items()):
            if not value.uses() and not value.is_graph_output():
                graph.initializers.pop(name)
        tape.replace_model(model)

    @staticmethod
    def _types(tape: Tape, names: set[str]) -> dict[str, tuple[ir.TypeProtocol, ir.Shape | None]]:
        """Types of the named tensors: cached, or inferred for just those (nothing when none is asked)."""
        if not names:
            return {}
        if tape.holder.types is not None:
            return tape.holder.types
        return infer_types_of(tape.model, names)

    def _check_names(self, graph: ir.Graph) -> None:
        if not self.inputs or not self.outputs:
            raise self.fail("give at least one input and one output tensor")
        for label, names in (("inputs", self.inputs), ("outputs", self.outputs)):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise self.fail(f"{label} lists {repeated} more than once")
            for name in names:
                find_value(graph, name, self.op)

    def _as_input(
        self, graph: ir.Graph, name: str, types: dict[str, tuple[ir.TypeProtocol, ir.Shape | None]]
    ) -> ir.Value:
        value = find_value(graph, name, self.op)
        if value.is_graph_input():
            return value
        if value.is_initializer():
            raise self.fail(f"{name!r} is an initializer, not a tensor that can be fed")
        type_, shape = (value.type, value.shape) if value.type is not None else types.get(name, (None, None))
        if type_ is None:
            raise self.fail(f"the type of {name!r} cannot be inferred, so it cannot become an input")
        fresh = ir.Value(name=f"{name}__extract_tmp", type=type_, shape=shape)
        value.replace_all_uses_with(fresh)
        value.name = f"{name}__cut"
        fresh.name = name
        if value.is_graph_output():
            outputs = graph.outputs
            for index, item in enumerate(outputs):
                if item is value:
                    outputs[index] = fresh
        return fresh

    def _needed(self, graph: ir.Graph, inputs: list[ir.Value], outputs: list[ir.Value]) -> set[int]:
        """Ids of the nodes the outputs need; refuses graph inputs reached that are not listed."""
        listed = {id(v) for v in inputs}
        graph_inputs = {id(v) for v in graph.inputs}
        needed: set[int] = set()
        used_inputs: set[int] = set()
        stack = list(outputs)
        seen: set[int] = set()
        while stack:
            value = stack.pop()
            if id(value) in seen:
                continue
            seen.add(id(value))
            if id(value) in listed:
                used_inputs.add(id(value))
                continue
            if id(value) in graph_inputs and not value.is_initializer():
                raise self.fail(
                    f"the outputs still depend on graph input {value.name!r}, which is not in inputs; "
                    "list it or choose inputs that cut it off"
                )
            producer = value.producer()
            if producer is None or producer.graph is not graph or id(producer) in needed:
                continue
            needed.add(id(producer))
            stack.extend(node_reads(producer))
        for value in inputs:
            if id(value) not in used_inputs:
                raise self.fail(f"input {value.name!r} does not feed any of the outputs")
        return needed
