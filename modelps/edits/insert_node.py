"""``insert_node``: put a new node on a tensor, between it and everything that read it."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import onnx_ir as ir

from modelps.edits._base import Edit, register
from modelps.edits._graphs import infer_types_of, refresh_types
from modelps.edits._lookup import find_value, unique_name
from modelps.edits.replace_op import check_arity, make_node_attrs
from modelps.tape import Tape

__all__ = ["InsertNode", "dtype_from_name"]


def dtype_from_name(name: str, op: str) -> ir.DataType:
    """Parse an element type name (``float32``, ``FLOAT``, ``int64``, ...).

    Raises:
        EditError: The name is not an ONNX element type.
    """
    from modelps.errors import EditError

    text = name.strip()
    try:
        return ir.DataType.from_numpy(np.dtype(text.lower()))
    except TypeError:
        pass
    try:
        return ir.DataType[text.upper()]
    except KeyError:
        raise EditError(f"unknown element type {name!r} (use e.g. 'float32', 'float16', 'int64')", op=op) from None


@register
@dataclasses.dataclass(frozen=True)
class InsertNode(Edit):
    """Insert a node of type ``op_type`` that reads tensor ``tensor``.

    The node's inputs are ``tensor``, then the tensors named in ``inputs_extra`` (``""`` leaves an
    optional input out), then one new initializer per item of ``constants`` (JSON numbers or nested
    lists, of element type ``constants_dtype``, by default that of ``tensor``), named
    ``<node>_c<i>``. Every former consumer of ``tensor``, including nodes inside ``If``/``Loop``
    bodies, reads the node's first output instead. When ``tensor`` is a graph output, the output
    keeps its name: the new node's output takes it and ``tensor`` is renamed ``<name>_pre``.
    The new output's type is found by shape inference, and declared types downstream are
    re-inferred (an inserted ``Transpose`` changes the shapes after it).

    Handles node outputs, graph inputs and initializers as ``tensor``; custom domains (the domain
    is imported at version 1 if the model does not import it). Attribute types come from the
    operator's ONNX schema where there is one (``{"alpha": 1}`` is a float for ``LeakyRelu``). The node gets ``name`` or
    ``<op_type>_<tensor>``; its output is ``<node>_out``; both are made unique deterministically.

    Refuses: an unknown tensor or extra input, a node name already in use, a tensor that is both a
    graph input and a graph output, constants that are not rectangular numeric lists, an operator
    the model's ONNX opset does not define or an input count it cannot take, and a new output
    whose type shape inference cannot find (wrong input types or attributes).
    """

    op = "insert_node"
    tensor: str
    op_type: str
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)
    inputs_extra: tuple[str, ...] = ()
    constants: tuple[Any, ...] = ()
    constants_dtype: str | None = None
    name: str | None = None
    domain: str = ""

    def apply(self, tape: Tape) -> None:
        """Apply the edit through ``tape`` (see the class docstring)."""
        graph = tape.graph
        value = find_value(graph, self.tensor, self.op)
        if value.is_graph_input() and value.is_graph_output():
            raise self.fail(f"tensor {self.tensor!r} is both a graph input and a graph output")
        if not self.op_type:
            raise self.fail("op_type is empty")
        node_name = self._node_name(graph)
        extras = [None if not name else find_value(graph, name, self.op) for name in self.inputs_extra]
        consts = self._constants(tape, node_name, value)
        attrs = make_node_attrs(tape.model, self.op_type, self.domain, self.attributes, self.op)
        n_inputs = 1 + len(extras) + len(self.constants)
        check_arity(tape.model, self.op_type, self.domain, (n_inputs, 1), "the new node", self.op)
        users = list(value.uses())
        output = ir.Value(name=unique_name(graph, f"{node_name}_out"))
        node = ir.Node(self.domain, self.op_type, [value, *extras, *consts], attrs, outputs=[output], name=node_name)
        for const in consts:
            tape.add_initializer(const)
        if self.domain and self.domain not in tape.model.opset_imports:
            tape.set_opset(self.domain, 1)
        producer = value.producer()
        tape.insert_after(producer if producer is not None and producer.graph is graph else None, [node])
        for user, index in users:
            tape.set_input(user, index, output)
        if value.is_graph_output():
            self._take_output_name(tape, value, output)
        self._type_output(tape, output)

    def _node_name(self, graph: ir.Graph) -> str:
        if self.name is not None:
            if not self.name:
                raise self.fail("the node name is empty")
            if any(node.name == self.name for node in graph):
                raise self.fail(f"a node named {self.name!r} already exists")
            return self.name
        return unique_name(graph, f"{self.op_type}_{self.tensor}")

    def _constants(self, tape: Tape, node_name: str, value: ir.Value) -> list[ir.Value]:
        if not self.constants:
            return []
        if self.constants_dtype is not None:
            dtype = dtype_from_name(self.constants_dtype, self.op)
        elif value.dtype is not None:
            dtype = value.dtype
        else:
            types = tape.holder.types if tape.holder.types is not None else infer_types_of(tape.model, {self.tensor})
            found = types.get(self.tensor)
            if found is None or found[0].dtype is None:
                raise self.fail(f"the element type of {self.tensor!r} is unknown; give constants_dtype")
            dtype = found[0].dtype
        values = []
        for index, data in enumerate(self.constants):
            try:
                array = np.asarray(data, dtype=dtype.numpy())
            except (ValueError, TypeError) as exc:
                raise self.fail(f"constant #{index + 1} is not a numeric array of {dtype.name}: {exc}") from None
            name = unique_name(tape.graph, f"{node_name}_c{index}")
            tensor = ir.tensor(array, dtype=dtype, name=name)
            values.append(
                ir.Value(name=name, type=ir.TensorType(dtype), shape=ir.Shape(array.shape), const_value=tensor)
            )
        return values

    def _take_output_name(self, tape: Tape, value: ir.Value, output: ir.Value) -> None:
        graph = tape.graph
        name = value.name
        assert name is not None
        for index, item in enumerate(graph.outputs):
            if item is value:
                tape.set_list_item(graph.outputs, index, output)
        tape.rename_value(value, unique_name(graph, f"{name}_pre"))
        tape.rename_value(output, name)

    def _type_output(self, tape: Tape, output: ir.Value) -> None:
        inferred = refresh_types(tape, [output], also=[output])
        if output.type is None:
            found = inferred.get(output.name or "")
            if found is None:
                raise self.fail(
                    f"the type of the new {self.op_type} node's output cannot be inferred; "
                    "check op_type, domain, inputs and attributes"
                )
            tape.set_value_type(output, *found)
