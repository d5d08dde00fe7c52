"""``set_input_shape``: set static or symbolic dimensions of one graph input."""

from __future__ import annotations

import dataclasses
import math

import onnx_ir as ir

from modelps.edits._base import Edit, register
from modelps.edits._graphs import downstream_values, refresh_types
from modelps.edits._lookup import find_value
from modelps.errors import ValidationError
from modelps.tape import Tape
from modelps.validate import check_full

__all__ = ["SetInputShape"]

Dim = int | str | None


@register
@dataclasses.dataclass(frozen=True)
class SetInputShape(Edit):
    """Set the shape of graph input ``input``.

    Give either the whole ``shape`` (a list of ints, symbolic names like ``"batch"``, or ``null``
    for an unnamed unknown dim), or one ``axis`` (negative counts from the end) with its ``dim``.
    Declared shapes downstream of the input are re-inferred so that stale ``value_info`` and output
    shapes do not contradict the new ones.

    Refuses: a name that is not a graph input (intermediate tensors, initializers), negative or
    empty dims, an ``axis`` outside the input's rank or on an input of unknown rank, giving both or
    neither of ``shape`` and ``axis``, no change at all, and a rank change that breaks a consumer
    (found by strict shape inference; the message names the node), and static dims that a
    downstream ``Reshape`` to a constant shape cannot take (a batch size baked into the export).
    """

    op = "set_input_shape"
    input: str
    shape: tuple[int | str | None, ...] | None = None
    axis: int | None = None
    dim: int | str | None = None

    def apply(self, tape: Tape) -> None:
        """Apply the edit through ``tape`` (see the class docstring)."""
        graph = tape.graph
        value = find_value(graph, self.input, self.op)
        if not value.is_graph_input():
            raise self.fail(f"tensor {self.input!r} is not a graph input")
        if value.is_initializer():
            raise self.fail(f"input {self.input!r} is an initializer; its shape comes from its data")
        new_shape = ir.Shape([_dim(d, self) for d in self._dims(value)])
        old_rank = value.shape.rank() if value.shape is not None else None
        if value.shape is not None and list(value.shape.dims) == list(new_shape.dims):
            raise self.fail(f"input {self.input!r} already has shape {_show(new_shape)}")
        reshapes = _reshapes_after(graph, value)
        tape.set_value_type(value, value.type, new_shape)
        inferred = refresh_types(tape, [value], also=[node.inputs[0] for node in reshapes if node.inputs[0]])
        for node in reshapes:
            self._check_reshape(node, inferred)
        if old_rank is not None and old_rank != new_shape.rank():
            try:
                check_full(tape.model)
            except ValidationError as exc:
                raise self.fail(
                    f"changing the rank of input {self.input!r} from {old_rank} to {new_shape.rank()} breaks its "
                    f"consumers: {exc}"
                ) from None

    def _check_reshape(self, node: ir.Node, inferred: dict[str, tuple[ir.TypeProtocol, ir.Shape | None]]) -> None:
        """Refuse when a ``Reshape`` to a constant shape can no longer take its input's element count."""
        data, target = node.inputs[0], _constant_ints(node.inputs[1])
        if data is None or target is None or node.attributes.get_int("allowzero", 0):
            return
        shape = data.shape if data.shape is not None else inferred.get(data.name or "", (None, None))[1]
        if shape is None or not all(isinstance(d, int) for d in shape.dims):
            return
        dims = [int(d) for d in shape.dims]
        wanted = [dims[i] if t == 0 and i < len(dims) else t for i, t in enumerate(target)]
        total, known = math.prod(dims), math.prod(t for t in wanted if t != -1)
        fits = total % known == 0 if -1 in wanted and known else total == known
        if not fits:
            raise self.fail(
                f"Reshape node {node.name!r} cannot reshape {total} elements (shape {dims}) to {target}; "
                "the model has a fixed shape baked in after this input"
            )

    def _dims(self, value: ir.Value) -> list[Dim]:
        if (self.shape is None) == (self.axis is None):
            raise self.fail("give either shape (the whole shape) or axis and dim (one dimension)")
        if self.shape is not None:
            return list(self.shape)
        assert self.axis is not None
        if value.shape is None:
            raise self.fail(f"input {self.input!r} has no known rank; give the whole shape")
        dims: list[Dim] = [d if isinstance(d, int) else d.value for d in value.shape.dims]
        rank = len(dims)
        if not -rank <= self.axis < rank:
            raise self.fail(f"axis {self.axis} is out of range for input {self.input!r} of rank {rank}")
        dims[self.axis] = self.dim
        return dims


def _dim(dim: Dim, edit: SetInputShape) -> int | ir.SymbolicDim:
    if isinstance(dim, bool):
        raise edit.fail(f"dimension {dim!r} is not an int, a name or null")
    if isinstance(dim, int):
        if dim < 0:
            raise edit.fail(f"dimension {dim} is negative; use a name (e.g. 'batch') or null for a dynamic dim")
        return dim
    if dim is None:
        return ir.SymbolicDim(None)
    if not dim.strip():
        raise edit.fail("a symbolic dimension name is empty")
    return ir.SymbolicDim(dim)


def _show(shape: ir.Shape) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else repr(d.value) for d in shape.dims) + "]"


def _reshapes_after(graph: ir.Graph, value: ir.Value) -> list[ir.Node]:
    """``Reshape`` nodes of the main graph that read ``value`` or a tensor computed from it."""
    reached = {id(v) for v in downstream_values(graph, [value])} | {id(value)}
    return [
        n for n in graph if n.op_type == "Reshape" and len(n.inputs) > 1 and n.inputs[0] and id(n.inputs[0]) in reached
    ]


def _constant_ints(value: ir.Value | None) -> list[int] | None:
    """Return the values of an integer initializer or ``Constant`` output (``None`` if not constant)."""
    if value is None:
        return None
    tensor = value.const_value
    producer = value.producer()
    if tensor is None and producer is not None and producer.op_type == "Constant" and "value" in producer.attributes:
        tensor = producer.attributes["value"].as_tensor()
    if tensor is None or not tensor.dtype.is_integer():
        return None
    return [int(v) for v in tensor.numpy().reshape(-1)]
