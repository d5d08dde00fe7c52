"""Weights an edit leaves behind: initializers and constant-only nodes that nothing reads any more.

:class:`~modelps.Model` removes them after every edit that rewires the graph (through the tape,
so undo brings them back). Only what *became* unused is removed: a model that arrived with
unused weights keeps them (``simplify`` drops those on request).

Example::

    >>> import onnx_ir as ir
    >>> from modelps.tape import ModelHolder, Tape
    >>> model = ir.from_onnx_text('''
    ...     <ir_version: 8, opset_import: ["" : 17]>
    ...     g (float[2] x) => (float[2] y) {
    ...       w = Constant <value = float[2] {1, 2}> ()
    ...       t = Transpose(w)
    ...       a = Add(x, t)
    ...       y = Relu(x) }''')
    >>> before = unused_constants(model.graph)           # 'a' still reads w and t
    >>> holder = ModelHolder(model); tape = Tape(holder)
    >>> tape.remove_node(model.graph[2])                  # drop the Add: w and t become unused
    >>> drop_unused(tape, before)
    2
    >>> [n.op_type for n in model.graph]
    ['Relu']
"""

from __future__ import annotations

import onnx_ir as ir

from modelps.tape import Tape

__all__ = ["drop_unused", "unused_constants"]

_NOT_CONSTANT = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
)


def _is_constant_node(node: ir.Node, constant: set[ir.Value]) -> bool:
    if node.domain not in ("", "ai.onnx") or node.op_type in _NOT_CONSTANT:
        return False
    if any(attr.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS) for attr in node.attributes.values()):
        return False
    return all(v is None or v in constant for v in node.inputs)


def _dead(graph: ir.Graph) -> tuple[list[ir.Node], list[ir.Value]]:
    """Constant-only nodes (last first) and initializers whose results nothing reads."""
    constant: set[ir.Value] = {v for v in graph.initializers.values() if not v.is_graph_input()}
    for node in graph:
        if _is_constant_node(node, constant):
            constant.update(node.outputs)
    outputs = set(graph.outputs)
    removed: set[ir.Node] = set()
    nodes = []
    for node in reversed(graph):
        if not all(v in constant for v in node.outputs) or any(v in outputs for v in node.outputs):
            continue
        if all(user in removed for v in node.outputs for user, _ in v.uses()):
            removed.add(node)
            nodes.append(node)
    inits = [
        v
        for v in graph.initializers.values()
        if not v.is_graph_input() and v not in outputs and all(user in removed for user, _ in v.uses())
    ]
    return nodes, inits


def _key(node: ir.Node) -> str:
    return "node:" + ",".join(str(v.name) for v in node.outputs)


def unused_constants(graph: ir.Graph) -> frozenset[str]:
    """Keys of the initializers and constant-only nodes of ``graph`` that nothing reads."""
    nodes, inits = _dead(graph)
    return frozenset([_key(n) for n in nodes] + [f"init:{v.name}" for v in inits])


def drop_unused(tape: Tape, keep: frozenset[str]) -> int:
    """Remove what nothing reads in the tape's main graph, except the entries of ``keep``.

    Returns:
        How many nodes and initializers were removed.
    """
    nodes, inits = _dead(tape.graph)
    count = 0
    for node in nodes:  # consumers before producers
        if _key(node) not in keep:
            tape.remove_node(node)
            count += 1
    for value in inits:
        if f"init:{value.name}" not in keep and not value.uses():
            tape.remove_initializer(value)
            count += 1
    return count
