"""A tape of primitive graph changes, each recorded with its inverse.

Edits change a model only through a :class:`Tape`. Undoing an edit replays its tape backwards, so
undo costs time proportional to what the edit touched, never a copy of the model. Whole-model
transforms (simplify, opset conversion, ...) use :meth:`Tape.replace_model`, which swaps the
model object and keeps the old one for undo (weights are shared, not copied).

Example::

    >>> import onnx_ir as ir
    >>> from modelps.tape import ModelHolder, Tape
    >>> holder = ModelHolder(ir.from_onnx_text('''
    ...     <ir_version: 8, opset_import: ["" : 17]>
    ...     g (float[2] x) => (float[2] y) { y = Relu(x) }'''))
    >>> tape = Tape(holder)
    >>> before = holder.model.graph[0].name
    >>> tape.rename_node(holder.model.graph[0], "act")
    >>> holder.model.graph[0].name
    'act'
    >>> tape.rollback()
    >>> holder.model.graph[0].name == before
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import onnx_ir as ir

__all__ = ["ModelHolder", "Tape", "node_before"]

Undo = Callable[[], None]


class ModelHolder:
    """A mutable reference to the current ``ir.Model``, so that edits may replace it whole.

    ``types`` caches the tensor types that shape inference found for the current model (by
    tensor name), or is ``None`` when unknown; :class:`~modelps.Model` clears it after each change.
    """

    def __init__(self, model: ir.Model) -> None:
        self.model = model
        self.types: dict[str, tuple[ir.TypeProtocol, ir.Shape | None]] | None = None


def node_before(node: ir.Node) -> ir.Node | None:
    """Return the node right before ``node`` in its graph, or ``None`` if it is first."""
    graph = node.graph
    if graph is None:
        raise ValueError(f"node {node.name!r} is not in a graph")
    boxes = getattr(graph._nodes, "_value_ids_to_boxes", None)  # O(1) through onnx_ir's linked list
    if boxes is not None:
        return boxes[id(node)].prev.value
    previous = None
    for candidate in graph:
        if candidate is node:
            return previous
        previous = candidate
    raise ValueError(f"node {node.name!r} is not in its graph")


class Tape:
    """Applies primitive changes to a model and records how to revert them."""

    def __init__(self, holder: ModelHolder) -> None:
        self.holder = holder
        self._undo: list[Undo] = []
        self.rewired = False
        """Whether a change touched connectivity (nodes, inputs, graph I/O, initializers, the model)."""

    @property
    def model(self) -> ir.Model:
        """The model being edited."""
        return self.holder.model

    @property
    def graph(self) -> ir.Graph:
        """The main graph of the model being edited."""
        return self.holder.model.graph

    def __len__(self) -> int:
        return len(self._undo)

    def rollback(self) -> None:
        """Revert every recorded change, newest first, and clear the tape."""
        while self._undo:
            self._undo.pop()()

    def _record(self, undo: Undo, *, rewired: bool = True) -> None:
        self._undo.append(undo)
        self.rewired = self.rewired or rewired

    # -- nodes -----------------------------------------------------------------------------
    def insert_after(self, anchor: ir.Node | None, nodes: Sequence[ir.Node], graph: ir.Graph | None = None) -> None:
        """Insert ``nodes`` after ``anchor`` (at the start of the graph when ``anchor`` is None)."""
        graph = graph if graph is not None else self.graph
        nodes = list(nodes)
        _place_after(graph, anchor, nodes)

        def undo() -> None:
            for node in nodes:
                for index in range(len(node.inputs)):
                    node.replace_input_with(index, None)
            graph.remove(nodes)

        self._record(undo)

    def remove_node(self, node: ir.Node) -> None:
        """Remove ``node`` from its graph, detaching its inputs; undo puts it back in place."""
        graph = node.graph
        assert graph is not None
        previous = node_before(node)
        inputs = list(node.inputs)
        graph.remove(node, safe=True)

        def undo() -> None:
            _place_after(graph, previous, [node])
            for index, value in enumerate(inputs):
                node.replace_input_with(index, value)

        self._record(undo)

    def set_input(self, node: ir.Node, index: int, value: ir.Value | None) -> None:
        """Point input ``index`` of ``node`` at ``value``."""
        old = node.inputs[index]
        node.replace_input_with(index, value)
        self._record(lambda: node.replace_input_with(index, old))

    def set_inputs(self, node: ir.Node, values: Sequence[ir.Value | None]) -> None:
        """Replace all inputs of ``node`` (the count may change)."""
        old = list(node.inputs)
        _reset_inputs(node, values)
        self._record(lambda: _reset_inputs(node, old))

    def replace_uses(self, old: ir.Value, new: ir.Value, *, graph_outputs: bool = True) -> None:
        """Make every consumer of ``old`` (and graph outputs, unless told not to) use ``new``."""
        for user, index in list(old.uses()):
            self.set_input(user, index, new)
        if graph_outputs and old.graph is not None:
            outputs = old.graph.outputs
            for i, output in enumerate(outputs):
                if output is old:
                    self.set_list_item(outputs, i, new)

    def set_attribute(self, node: ir.Node, name: str, attr: ir.Attr | None) -> None:
        """Set (or, with ``None``, delete) an attribute of ``node``."""
        old = node.attributes.get(name)
        _put_attribute(node, name, attr)
        self._record(lambda: _put_attribute(node, name, old), rewired=False)

    def set_op(self, node: ir.Node, op_type: str, domain: str | None = None) -> None:
        """Change a node's operator type (and domain)."""
        old_type, old_domain = node.op_type, node.domain
        node.op_type = op_type
        if domain is not None:
            node.domain = domain

        def undo() -> None:
            node.op_type = old_type
            node.domain = old_domain

        self._record(undo, rewired=False)

    def rename_node(self, node: ir.Node, name: str | None) -> None:
        """Rename a node."""
        old = node.name
        node.name = name
        self._record(lambda: setattr(node, "name", old), rewired=False)

    # -- values ----------------------------------------------------------------------------
    def rename_value(self, value: ir.Value, name: str) -> None:
        """Rename a tensor; an initializer is re-keyed in its graph's initializer table."""
        old = value.name
        graph = value.graph if value.is_initializer() else None
        _rename_value(value, name, graph)
        self._record(lambda: _rename_value(value, old, graph), rewired=False)

    def set_value_type(self, value: ir.Value, type_: ir.TypeProtocol | None, shape: ir.Shape | None) -> None:
        """Set a tensor's type and shape."""
        old_type, old_shape = value.type, value.shape
        value.type = type_
        value.shape = shape

        def undo() -> None:
            value.type = old_type
            value.shape = old_shape

        self._record(undo, rewired=False)

    def set_const_value(self, value: ir.Value, tensor: ir.TensorProtocol | None) -> None:
        """Replace the data of an initializer."""
        old = value.const_value
        value.const_value = tensor
        self._record(lambda: setattr(value, "const_value", old), rewired=False)

    def add_initializer(self, value: ir.Value, graph: ir.Graph | None = None) -> None:
        """Register a new initializer."""
        graph = graph if graph is not None else self.graph
        graph.register_initializer(value)
        self._record(lambda: graph.initializers.pop(value.name))

    def remove_initializer(self, value: ir.Value) -> None:
        """Drop an initializer that nothing uses any more; undo restores it at the same position."""
        graph = value.graph
        assert graph is not None and value.name is not None
        items = list(graph.initializers.items())
        graph.initializers.pop(value.name)

        def undo() -> None:
            graph.initializers.clear()
            for _, item in items:
                graph.register_initializer(item)

        self._record(undo)

    # -- lists (graph inputs/outputs) ------------------------------------------------------
    def set_list_item(self, items: list[ir.Value] | Sequence[ir.Value], index: int, value: ir.Value) -> None:
        """Replace one item of a graph's input or output list."""
        mutable = items  # graph.inputs / graph.outputs are mutable sequences
        old = mutable[index]
        mutable[index] = value  # type: ignore[index]
        self._record(lambda: mutable.__setitem__(index, old))  # type: ignore[union-attr]

    def set_list(self, items: list[ir.Value] | Sequence[ir.Value], values: Iterable[ir.Value]) -> None:
        """Replace the whole contents of a graph's input or output list."""
        mutable = items
        old = list(mutable)
        _replace_contents(mutable, list(values))
        self._record(lambda: _replace_contents(mutable, old))

    # -- model level -----------------------------------------------------------------------
    def set_opset(self, domain: str, version: int | None) -> None:
        """Set (or, with ``None``, drop) the opset version imported for ``domain``."""
        imports = self.model.opset_imports
        old = imports.get(domain)
        _put_opset(imports, domain, version)
        self._record(lambda: _put_opset(imports, domain, old))

    def replace_model(self, model: ir.Model) -> None:
        """Swap in a new model object; undo swaps the old one back."""
        old = self.holder.model
        self.holder.model = model
        self._record(lambda: setattr(self.holder, "model", old))

    def call(self, do: Callable[[], None], undo: Undo) -> None:
        """Run an arbitrary change with the inverse supplied by the caller."""
        do()
        self._record(undo)


def _place_after(graph: ir.Graph, anchor: ir.Node | None, nodes: list[ir.Node]) -> None:
    """Insert ``nodes`` after ``anchor``, or at the start of the graph when ``anchor`` is None."""
    if anchor is not None:
        graph.insert_after(anchor, nodes)
    elif len(graph) == 0:
        graph.extend(nodes)
    else:
        graph.insert_before(graph[0], nodes)


def _reset_inputs(node: ir.Node, values: Sequence[ir.Value | None]) -> None:
    for index in range(len(node.inputs)):
        node.replace_input_with(index, None)
    node.resize_inputs(len(values))
    for index, value in enumerate(values):
        node.replace_input_with(index, value)


def _put_attribute(node: ir.Node, name: str, attr: ir.Attr | None) -> None:
    if attr is None:
        node.attributes.pop(name, None)
    else:
        node.attributes[name] = attr


def _put_opset(imports: dict[str, int], domain: str, version: int | None) -> None:
    if version is None:
        imports.pop(domain, None)
    else:
        imports[domain] = version


def _rename_value(value: ir.Value, name: str | None, graph: ir.Graph | None) -> None:
    if graph is None:
        value.name = name
        return
    items = list(graph.initializers.values())
    graph.initializers.clear()
    value.name = name
    for item in items:
        graph.register_initializer(item)


def _replace_contents(items: list[ir.Value] | Sequence[ir.Value], values: list[ir.Value]) -> None:
    mutable = items
    mutable.clear()  # type: ignore[union-attr]
    mutable.extend(values)  # type: ignore[union-attr]
