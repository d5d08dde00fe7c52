"""Finding nodes and tensors by name, with errors that name what was not found."""

from __future__ import annotations

from collections.abc import Iterator

import onnx_ir as ir

from modelps.errors import EditError
from modelps.tape import Tape
from modelps.validate import infer_value_types

__all__ = ["ensure_type", "find_node", "find_value", "iter_values", "unique_name"]


def ensure_type(tape: Tape, value: ir.Value, op: str) -> None:
    """Give ``value`` the type and shape that shape inference finds, if it has no type yet.

    Graph outputs must declare a type; this is for edits that turn a tensor into one.

    Raises:
        EditError: The type cannot be inferred.
    """
    if value.type is not None:
        return
    if tape.holder.types is None:
        tape.holder.types = infer_value_types(tape.model)
    inferred = tape.holder.types.get(value.name or "")
    if inferred is None:
        raise EditError(f"the type of tensor {value.name!r} is unknown and cannot be inferred", op=op)
    tape.set_value_type(value, *inferred)


def find_node(graph: ir.Graph, name: str, op: str) -> ir.Node:
    """Return the node called ``name`` in the main graph.

    Raises:
        EditError: No node, or more than one, has that name.
    """
    matches = [node for node in graph if node.name == name]  # a list comprehension: fast enough at 30k nodes
    if not matches:
        raise EditError(f"no node named {name!r} in the graph", op=op)
    if len(matches) > 1:
        raise EditError(f"{len(matches)} nodes are named {name!r}; rename them first", op=op)
    return matches[0]


def iter_values(graph: ir.Graph) -> Iterator[ir.Value]:
    """Yield every tensor of the main graph: inputs, initializers, then node outputs."""
    yield from graph.inputs
    for value in graph.initializers.values():
        if not value.is_graph_input():
            yield value
    for node in graph:
        yield from node.outputs


def find_value(graph: ir.Graph, name: str, op: str) -> ir.Value:
    """Return the tensor called ``name`` (graph input, initializer or node output).

    Raises:
        EditError: No tensor has that name.
    """
    for value in iter_values(graph):
        if value.name == name:
            return value
    raise EditError(f"no tensor named {name!r} in the graph", op=op)


def unique_name(graph: ir.Graph, base: str) -> str:
    """Return ``base``, or ``base_1``, ``base_2``, ... whichever names no node or tensor yet."""
    taken = {v.name for v in iter_values(graph)} | {n.name for n in graph}
    if base not in taken:
        return base
    index = 1
    while f"{base}_{index}" in taken:
        index += 1
    return f"{base}_{index}"
