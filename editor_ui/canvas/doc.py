"""The canvas document: every graph of a model (main, If/Loop/Scan bodies, local functions) as compact JSON.

Computed from the ``onnx_ir`` model; the browser only lays out and draws it. Per graph:

- nodes (``names``, ``op`` index into the op table; graph inputs, outputs and values captured from an
  outer graph are pseudo-nodes with op ``-1``, ``-2`` and ``-3``);
- ``Constant`` nodes, initializers and nodes computed from constants only (weight ``DequantizeLinear``,
  ``Cast``, ``Reshape`` of a weight) folded into their consumers: not drawn, counted in ``folded`` and
  listed by the inspector;
- a group tree from name scopes (:mod:`editor_ui.canvas.scopes`), repeated blocks marked;
- edges with the tensor name, its shape and element type;
- links from a node to the graphs it holds (``sub``): bodies of If/Loop/Scan, or the local function it calls.

Example::

    >>> from tests.models import IF_MODEL, model_from_text
    >>> from modelps.model import Model
    >>> doc = build_doc(Model(model_from_text(IF_MODEL)).ir)
    >>> sorted(doc.graphs)
    ['main', 'main/n1.else_branch', 'main/n1.then_branch']
    >>> doc.data["graphs"]["main/n1.then_branch"]["names"]
    ['Neg_0', 't', 'o']
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable

import onnx_ir as ir

from editor_ui.canvas.families import FAMILY_COLOURS, op_family
from editor_ui.canvas.scopes import group_tree, node_scope
from editor_ui.graph import dims_text

__all__ = ["CAPTURED", "INPUT", "OUTPUT", "CanvasDoc", "GraphEntry", "build_doc", "graph_id"]

INPUT, OUTPUT, CAPTURED = -1, -2, -3
ROOT = "main"


@dataclasses.dataclass
class GraphEntry:
    """One drawn graph and what the inspector needs to find its nodes again."""

    gid: str
    graph: ir.Graph | ir.Function
    title: str
    parent: str | None
    nodes: dict[str, ir.Node]
    folded: dict[str, list[str]]
    """Consumer node name -> names of the constant nodes and initializers folded into it."""
    folded_ops: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    """Consumer node name -> op types of the folded constant nodes (``initializer`` for weights)."""


@dataclasses.dataclass
class CanvasDoc:
    """The JSON document for the canvas, and the graphs it was made from."""

    token: str
    data: dict
    graphs: dict[str, GraphEntry]
    text: str = ""

    def to_json(self) -> str:
        """The document as compact JSON text."""
        return self.text or json.dumps(self.data, separators=(",", ":"))


def graph_id(parent: str, node_name: str, attr: str, index: int | None = None) -> str:
    """The id of a subgraph: ``<parent>/<node>.<attribute>`` (``[i]`` for a list of graphs)."""
    return f"{parent}/{node_name}.{attr}" + (f"[{index}]" if index is not None else "")


class _Tables:
    """Interned strings shared by every graph of the document (op types, shapes, element types)."""

    def __init__(self) -> None:
        self.ops: dict[str, int] = {}
        self.shapes: dict[str, int] = {}
        self.dtypes: dict[str, int] = {}

    @staticmethod
    def _intern(table: dict[str, int], text: str) -> int:
        index = table.get(text)
        if index is None:
            index = table[text] = len(table)
        return index

    def op(self, text: str) -> int:
        return self._intern(self.ops, text)

    def shape(self, text: str) -> int:
        return self._intern(self.shapes, text)

    def dtype(self, text: str) -> int:
        return self._intern(self.dtypes, text)


def _dtype_text(value: ir.Value, types: dict[str, tuple]) -> str:
    if value.dtype is not None:
        return value.dtype.name.lower()
    found = types.get(value.name or "")
    if found is not None and getattr(found[0], "dtype", None) is not None:
        return found[0].dtype.name.lower()
    return "?"


def _shape_text(value: ir.Value, types: dict[str, tuple]) -> str:
    if value.shape is not None:
        return dims_text(value.shape)
    found = types.get(value.name or "")
    return dims_text(found[1]) if found is not None and found[1] is not None else "?"


def _constant_nodes(graph: ir.Graph | ir.Function, constants: set[ir.Value]) -> set[ir.Node]:
    """Nodes computed from constants only (``Constant`` included), none of whose outputs leaves the graph."""
    outputs = set(graph.outputs)
    folded: set[ir.Node] = set()
    for node in graph:
        if any(a.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS) for a in node.attributes.values()):
            continue
        inputs = [v for v in node.inputs if v is not None]
        constant = (node.op_type == "Constant" and node.domain in ("", "ai.onnx")) or (
            inputs and all(v in constants for v in inputs)
        )
        if constant and not any(v in outputs for v in node.outputs):
            folded.add(node)
            constants.update(node.outputs)
    return folded


def _outer_uses(node: ir.Node, graph: ir.Graph | ir.Function) -> list[ir.Value]:
    """Values of ``graph`` that the bodies of ``node`` (at any depth) read: drawn as edges into ``node``."""
    found: list[ir.Value] = []
    seen: set[ir.Value] = set()
    stack = [
        body
        for attr in node.attributes.values()
        if attr.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS)
        for body in (attr.value if attr.type == ir.AttributeType.GRAPHS else [attr.value])
    ]
    while stack:
        body = stack.pop()
        for inner in body:
            for value in inner.inputs:
                if value is None or value in seen:
                    continue
                producer = value.producer()
                owner = producer.graph if producer is not None else value.graph
                if owner is graph:
                    seen.add(value)
                    found.append(value)
            for attr in inner.attributes.values():
                if attr.type == ir.AttributeType.GRAPH:
                    stack.append(attr.value)
                elif attr.type == ir.AttributeType.GRAPHS:
                    stack.extend(attr.value)
    return found


def _local_functions(model: ir.Model) -> dict[tuple[str, str, str], ir.Function]:
    return {(f.domain, f.name, f.overload or ""): f for f in model.functions.values()}


def _graph_doc(
    gid: str,
    graph: ir.Graph | ir.Function,
    tables: _Tables,
    types: dict[str, tuple],
    functions: dict[tuple[str, str, str], ir.Function],
    pending: list[tuple[str, ir.Graph | ir.Function, str, str | None]],
) -> tuple[dict, dict[str, ir.Node], tuple[dict[str, list[str]], dict[str, list[str]]]]:
    """Build one graph's JSON; subgraphs found are appended to ``pending`` as (id, graph, title)."""
    initializers = set(graph.initializers.values()) if isinstance(graph, ir.Graph) else set()
    constants = set(initializers)
    folded_nodes = _constant_nodes(graph, constants)
    names: list[str] = []
    ops: list[int] = []
    scopes: list[tuple[str, ...] | None] = []
    index: dict[ir.Value, int] = {}  # value -> drawn producer
    by_name: dict[str, ir.Node] = {}
    used: set[str] = set()

    def add(name: str, op: int, scope: tuple[str, ...] | None) -> int:
        names.append(name)
        ops.append(op)
        scopes.append(scope)
        return len(names) - 1

    for value in graph.inputs:
        if value not in initializers:
            index[value] = add(value.name or "", INPUT, None)
    drawn: list[tuple[int, ir.Node]] = []
    sub: dict[int, list[list[str]]] = {}
    for position, node in enumerate(graph):
        if node in folded_nodes:
            continue
        name = node.name or f"{node.op_type}_{position}"
        while name in used:
            name += "'"
        used.add(name)
        by_name[name] = node
        i = add(name, tables.op(node.op_type), None)
        drawn.append((i, node))
        for value in node.outputs:
            index[value] = i
        links = []
        for attr_name, attr in node.attributes.items():
            if attr.type == ir.AttributeType.GRAPH:
                links.append([attr_name, graph_id(gid, name, attr_name)])
                pending.append((links[-1][1], attr.value, f"{name} · {attr_name}", gid))
            elif attr.type == ir.AttributeType.GRAPHS:
                for k, body in enumerate(attr.value):
                    links.append([f"{attr_name}[{k}]", graph_id(gid, name, attr_name, k)])
                    pending.append((links[-1][1], body, f"{name} · {attr_name}[{k}]", gid))
        function = functions.get((node.domain, node.op_type, node.overload or ""))
        if function is not None:
            links.append(["function", f"fn:{function.domain}:{function.name}"])
        if links:
            sub[i] = links
    for i, node in drawn:
        scopes[i] = node_scope(node, names[i])
    src: list[int] = []
    dst: list[int] = []
    shape: list[int] = []
    dtype: list[int] = []
    tensor: list[str] = []
    folded_count: dict[int, int] = {}
    folded_names: dict[str, list[str]] = {}
    folded_ops: dict[str, list[str]] = {}

    described: dict[ir.Value, tuple[int, int]] = {}

    def edge(s: int, d: int, value: ir.Value) -> None:
        text = described.get(value)
        if text is None:
            text = described[value] = (
                tables.shape(_shape_text(value, types)),
                tables.dtype(_dtype_text(value, types)),
            )
        src.append(s)
        dst.append(d)
        shape.append(text[0])
        dtype.append(text[1])
        tensor.append(value.name or "")

    for i, node in drawn:
        uses = [*node.inputs, *(_outer_uses(node, graph) if i in sub else [])]
        for value in uses:
            if value is None:
                continue
            if value in constants:
                folded_count[i] = folded_count.get(i, 0) + 1
                producer = value.producer()
                folded_names.setdefault(names[i], []).append(
                    producer.name or producer.op_type if producer is not None else value.name or ""
                )
                folded_ops.setdefault(names[i], []).append(producer.op_type if producer is not None else "initializer")
                continue
            if value not in index:  # a value of an enclosing graph, used inside this body
                index[value] = add(value.name or "", CAPTURED, None)
            edge(index[value], i, value)
    for value in graph.outputs:
        o = add(value.name or "", OUTPUT, None)
        if value in index:
            edge(index[value], o, value)
    groups, member = group_tree(names, scopes, src, dst)
    data = {
        "names": names,
        "op": ops,
        "grp": member,
        "folded": [folded_count.get(i, 0) for i in range(len(names))],
        "sub": {str(k): v for k, v in sub.items()},
        "groups": groups,
        "src": src,
        "dst": dst,
        "shape": shape,
        "dtype": dtype,
        "tensor": tensor,
    }
    return data, by_name, (folded_names, folded_ops)


def build_doc(model: ir.Model, *, types: dict[str, tuple] | None = None) -> CanvasDoc:
    """Build the canvas document of ``model``; ``types`` are inferred tensor types by name, if any."""
    types = types or {}
    tables = _Tables()
    functions = _local_functions(model)
    pending: list[tuple[str, ir.Graph | ir.Function, str, str | None]] = [
        (ROOT, model.graph, model.graph.name or "model", None)
    ]
    for function in functions.values():
        pending.append((f"fn:{function.domain}:{function.name}", function, f"function {function.name}", None))
    graphs: dict[str, dict] = {}
    entries: dict[str, GraphEntry] = {}
    while pending:
        gid, graph, title, parent = pending.pop(0)
        data, nodes, folded = _graph_doc(gid, graph, tables, types, functions, pending)
        data.update(id=gid, title=title, parent=parent)
        graphs[gid] = data
        entries[gid] = GraphEntry(gid, graph, title, parent, nodes, folded[0], folded[1])
    ops = list(tables.ops)
    doc = {
        "root": ROOT,
        "ops": ops,
        "families": [op_family(op) for op in ops],
        "colours": FAMILY_COLOURS,
        "shapes": list(tables.shapes),
        "dtypes": list(tables.dtypes),
        "graphs": graphs,
    }
    body = json.dumps(doc, separators=(",", ":"))  # key order is fixed by construction: same model, same text
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    doc["token"] = digest
    return CanvasDoc(digest, doc, entries, body[:-1] + f',"token":"{digest}"}}')


def all_entries(doc: CanvasDoc) -> Iterable[GraphEntry]:
    """Every graph of the document, the main graph first."""
    return doc.graphs.values()
