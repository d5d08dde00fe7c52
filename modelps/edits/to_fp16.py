"""``to_fp16``: convert float32 weights and activations to float16."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np
import onnx
import onnx_ir as ir

from modelps.compress.values import const_array
from modelps.edits._base import Edit, register
from modelps.edits._graphs import current_types, has_subgraphs, name_unnamed_nodes, subgraph_owners
from modelps.edits.convert_opset import default_opset
from modelps.edits.replace_op import op_schema
from modelps.tape import Tape

__all__ = ["ALWAYS_FP32", "ToFp16"]

FLOAT = ir.DataType.FLOAT
HALF = ir.DataType.FLOAT16
_HALF_TYPE = "tensor(float16)"
HALF_MAX = float(np.finfo(np.float16).max)

# Operators whose float outputs are chosen by a ``dtype`` attribute: they stay float32.
ALWAYS_FP32 = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "EyeLike", "Multinomial", "Bernoulli"}
)


class _Namer:
    """Unique, deterministic names for the Casts the conversion adds."""

    def __init__(self, model: ir.Model) -> None:
        self.taken: set[str] = set()
        for graph in model.graphs():
            self.taken.update(v.name for v in graph.inputs if v.name)
            self.taken.update(graph.initializers)
            for node in graph:
                self.taken.update(o.name for o in node.outputs if o.name)
                if node.name:
                    self.taken.add(node.name)

    def __call__(self, base: str) -> str:
        name, index = base, 0
        while name in self.taken:
            index += 1
            name = f"{base}_{index}"
        self.taken.add(name)
        return name


@register
@dataclasses.dataclass(frozen=True)
class ToFp16(Edit):
    """Store float32 weights and compute float32 activations in float16.

    Every float32 initializer, ``Constant``/``ConstantOfShape`` value and node output of the main
    graph becomes float16, and ``Cast(to=FLOAT)`` becomes ``Cast(to=FLOAT16)``, except where a node
    must stay float32; ``Cast`` nodes (``<tensor>_to_fp16`` / ``<tensor>_to_fp32``) are added where
    the two meet. A node stays float32 when it reads a stored value that float16 cannot hold
    (beyond ±65504, e.g. a BatchNorm variance of 1e8: it would become inf), when its type is in
    ``block_ops`` or :data:`ALWAYS_FP32`, it
    belongs to a custom domain, it holds subgraphs (``If``/``Loop`` bodies and the outer tensors they
    read stay float32), it reads a tensor whose type shape inference cannot tell, or its ONNX
    schema does not allow float16 for a float output. An input the schema types as float32 only
    (``Resize`` scales, ...) keeps float32. With ``keep_io_types``
    (the default) float32 graph inputs and outputs stay float32, with Casts at the boundary, and
    output names do not change. Outputs are close to the original, not equal (float16 rounding).
    The model is rebuilt as a whole (undo swaps the old one back).

    Refuses: a model with no float32 tensor to convert (an already converted one: casts from
    float16 back to float32 are kept), and a model without the default domain.
    """

    op = "to_fp16"
    block_ops: tuple[str, ...] = ()
    keep_io_types: bool = True

    def apply(self, tape: Tape) -> None:
        """Apply the edit through ``tape`` (see the class docstring)."""
        opset = default_opset(tape.model)
        if opset is None:
            raise self.fail("the model does not import the default ONNX domain")
        types = current_types(tape)
        model = tape.model.clone()
        graph = model.graph
        for node in graph:
            for out in node.outputs:
                if out.type is None and out.name in types:
                    out.type, out.shape = types[out.name]
        converter = _Converter(model, opset, frozenset(self.block_ops) | ALWAYS_FP32, self.keep_io_types)
        if not converter.run():
            raise self.fail("the model has no float32 tensor that can become float16")
        name_unnamed_nodes(graph)
        tape.replace_model(model)


class _Converter:
    """The conversion of one (cloned) model; :meth:`run` does it all."""

    def __init__(self, model: ir.Model, opset: int, block: frozenset[str], keep_io_types: bool) -> None:
        self.model = model
        self.graph = model.graph
        self.opset = opset
        self.block = block
        self.keep_io_types = keep_io_types
        self.owners = subgraph_owners(self.graph)
        self.blocked = {id(n) for n in self.graph if self._must_stay_fp32(n)}
        self.name = _Namer(model)
        self.half: set[int] = set()
        self.casts: dict[tuple[int, ir.DataType], ir.Value] = {}

    def run(self) -> bool:
        """Convert the model; return whether anything became float16."""
        floats = list(self._float_values())
        self._choose_half(floats)
        if not self.half:
            return False
        for value in floats:
            self._fix_uses(value)
        for value in floats:
            if id(value) in self.half:
                self._to_half(value)
        self._convert_node_attributes()
        self._fix_outputs()
        return True

    # -- deciding ------------------------------------------------------------------------------
    def _schema(self, node: ir.Node) -> onnx.defs.OpSchema | None:
        return op_schema(node.op_type, "", self.opset)

    def _must_stay_fp32(self, node: ir.Node) -> bool:
        if node.op_type in self.block or node.domain not in ("", "ai.onnx") or has_subgraphs(node):
            return True
        if _beyond_half(_constant_value(node)) or any(_beyond_half(const_array(v)) for v in node.inputs):
            return True  # float16 would turn the value into inf
        if node.op_type == "Cast" and node.inputs[0] is not None and node.inputs[0].dtype == HALF:
            return True  # a deliberate float16 -> float32 cast (e.g. from an earlier conversion)
        if any(v is not None and v.dtype is None for v in node.inputs):
            return True  # an input of unknown type (e.g. from a custom operator) may be float32
        schema = self._schema(node)
        if schema is None:
            return True
        return any(
            out.dtype == FLOAT and not _allows_half(schema, schema.outputs, index)
            for index, out in enumerate(node.outputs)
        )

    def _float_values(self) -> Iterator[ir.Value]:
        yield from (v for v in self.graph.inputs if v.dtype == FLOAT and not v.is_initializer())
        yield from (v for v in self.graph.initializers.values() if v.dtype == FLOAT)
        for node in self.graph:
            yield from (v for v in node.outputs if v.dtype == FLOAT)

    def _choose_half(self, floats: list[ir.Value]) -> None:
        for value in floats:
            producer = value.producer()
            if value.is_graph_input():
                if not self.keep_io_types:
                    self.half.add(id(value))
            elif value.is_initializer():
                if value.is_graph_output():
                    continue  # a weight exposed as an output keeps its type and name
                if any(self._needs(node, index) == HALF for node, index in value.uses()):
                    self.half.add(id(value))
            elif producer is not None and id(producer) not in self.blocked:
                self.half.add(id(value))

    def _needs(self, user: ir.Node, index: int) -> ir.DataType:
        """Return the float type that input ``index`` of ``user`` must have after the conversion."""
        owner = user if user.graph is self.graph else self.owners.get(id(user))
        if owner is None or owner is not user or id(user) in self.blocked:
            return FLOAT
        schema = self._schema(user)
        if schema is None or not _allows_half(schema, schema.inputs, index):
            return FLOAT
        return HALF

    # -- rewriting -----------------------------------------------------------------------------
    def _fix_uses(self, value: ir.Value) -> None:
        have = HALF if id(value) in self.half else FLOAT
        for user, index in list(value.uses()):
            need = self._needs(user, index)
            if need != have:
                user.replace_input_with(index, self._cast(value, need))

    def _cast(self, value: ir.Value, to: ir.DataType) -> ir.Value:
        key = (id(value), to)
        if key not in self.casts:
            suffix = "fp16" if to == HALF else "fp32"
            out = ir.Value(
                name=self.name(f"{value.name}_to_{suffix}"), type=ir.TensorType(to), shape=_copy_shape(value)
            )
            node = ir.Node(
                "", "Cast", [value], [ir.AttrInt64("to", to.value)], outputs=[out], name=self.name(f"Cast_{out.name}")
            )
            producer = value.producer()
            if producer is not None and producer.graph is self.graph:
                self.graph.insert_after(producer, node)
            elif len(self.graph):
                self.graph.insert_before(self.graph[0], node)
            else:
                self.graph.append(node)
            self.casts[key] = out
        return self.casts[key]

    def _to_half(self, value: ir.Value) -> None:
        value.type = ir.TensorType(HALF)
        tensor = value.const_value
        if tensor is not None:
            value.const_value = ir.tensor(tensor.numpy().astype(np.float16), dtype=HALF, name=value.name)

    def _convert_node_attributes(self) -> None:
        for node in list(self.graph):
            if id(node) in self.blocked or not any(id(o) in self.half for o in node.outputs):
                continue
            if node.op_type == "Cast" and node.attributes.get_int("to") == FLOAT.value:
                node.attributes["to"] = ir.AttrInt64("to", HALF.value)
            for name in ("value", "value_float", "value_floats"):
                attr = node.attributes.get(name)
                if attr is None:
                    continue
                if attr.type == ir.AttributeType.TENSOR and attr.as_tensor().dtype == FLOAT:
                    data = attr.as_tensor().numpy().astype(np.float16)
                    node.attributes[name] = ir.AttrTensor(name, ir.tensor(data, dtype=HALF))
                elif node.op_type == "Constant" and name != "value":
                    data = np.asarray(attr.value, dtype=np.float16)
                    node.attributes.pop(name)
                    node.attributes["value"] = ir.AttrTensor("value", ir.tensor(data, dtype=HALF))

    def _fix_outputs(self) -> None:
        if not self.keep_io_types:
            return
        outputs = self.graph.outputs
        for index, value in enumerate(list(outputs)):
            if id(value) not in self.half:
                continue
            name = value.name
            assert name is not None
            value.name = self.name(f"{name}_fp16")
            out = ir.Value(name=name, type=ir.TensorType(FLOAT), shape=_copy_shape(value))
            cast_to = [ir.AttrInt64("to", FLOAT.value)]
            node = ir.Node("", "Cast", [value], cast_to, outputs=[out], name=self.name(f"Cast_{name}"))
            self.graph.append(node)
            outputs[index] = out


def _constant_value(node: ir.Node) -> np.ndarray | None:
    if node.op_type != "Constant":
        return None
    attr = node.attributes.get("value")
    if attr is not None and attr.type == ir.AttributeType.TENSOR:
        return attr.as_tensor().numpy()
    floats = node.attributes.get("value_float") or node.attributes.get("value_floats")
    return np.asarray(floats.value, np.float32) if floats is not None else None


def _beyond_half(array: np.ndarray | None) -> bool:
    if array is None or array.dtype != np.float32 or array.size == 0:
        return False
    finite = array[np.isfinite(array)]
    return bool(finite.size) and float(np.abs(finite).max()) > HALF_MAX


def _allows_half(schema: onnx.defs.OpSchema, params: Sequence[onnx.defs.OpSchema.FormalParameter], index: int) -> bool:
    if not params:
        return False
    param = params[min(index, len(params) - 1)]
    for constraint in schema.type_constraints:
        if constraint.type_param_str == param.type_str:
            return _HALF_TYPE in constraint.allowed_type_strs
    return param.type_str == _HALF_TYPE


def _copy_shape(value: ir.Value) -> ir.Shape | None:
    return ir.Shape(value.shape) if value.shape is not None else None
