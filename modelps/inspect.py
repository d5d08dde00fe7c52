"""Inspection: signature, node and op counts, parameters, FLOPs/MACs per node and in total.

FLOPs are counted as 2 x multiply-accumulates for Conv/ConvTranspose/Gemm/MatMul plus one
operation per output element for elementwise ops, activations and normalisations. Symbolic
dimensions (e.g. a dynamic batch) are taken as 1 unless ``dims`` gives their values.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

import onnx
import onnx_ir as ir

from modelps.names import node_key
from modelps.validate import checkable_proto

__all__ = ["ModelSummary", "NodeCost", "node_costs", "shape_of", "summarize", "tensor_signature"]

_ELEMENTWISE = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Pow",
        "Sqrt",
        "Exp",
        "Log",
        "Abs",
        "Neg",
        "Reciprocal",
        "Relu",
        "LeakyRelu",
        "PRelu",
        "Sigmoid",
        "Tanh",
        "HardSigmoid",
        "HardSwish",
        "Clip",
        "Elu",
        "Selu",
        "Gelu",
        "Softplus",
        "Erf",
        "Min",
        "Max",
        "Where",
        "Mish",
        "Swish",
        "Sin",
        "Cos",
        "Floor",
        "Ceil",
        "Round",
        "Sign",
    }
)
_NORMALISATION = {"BatchNormalization": 2, "InstanceNormalization": 4, "LayerNormalization": 5, "Softmax": 3}


@dataclasses.dataclass(frozen=True)
class NodeCost:
    """The cost of one node: multiply-accumulates and floating-point operations."""

    node: str
    op_type: str
    macs: int
    flops: int


@dataclasses.dataclass(frozen=True)
class ModelSummary:
    """What ``modelps inspect`` reports."""

    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    nodes: int
    op_counts: dict[str, int]
    params: int
    param_bytes: int
    flops: int
    macs: int
    opset: dict[str, int]
    ir_version: int
    producer: str
    subgraphs: int
    per_node: list[NodeCost]

    def to_dict(self, *, per_node: bool = False) -> dict[str, Any]:
        """JSON-ready dict; the per-node table only when asked."""
        data = dataclasses.asdict(self)
        if per_node:
            data["per_node"] = [dataclasses.asdict(c) for c in self.per_node]
        else:
            data.pop("per_node")
        return data


def _dim_text(dim: Any) -> int | str | None:
    if isinstance(dim, int):
        return dim
    return getattr(dim, "value", None)


def tensor_signature(value: ir.Value) -> dict[str, Any]:
    """Name, dtype (lower-case) and shape (ints, symbolic names or None) of a tensor."""
    shape = None if value.shape is None else [_dim_text(d) for d in value.shape]
    dtype = value.dtype.name.lower() if value.dtype is not None else None
    return {"name": value.name, "dtype": dtype, "shape": shape}


def summarize(model: ir.Model, *, dims: Mapping[str, int] | None = None) -> ModelSummary:
    """Summarize a model; ``dims`` gives values for symbolic dimensions (default 1)."""
    graph = model.graph
    costs = node_costs(model, dims=dims)
    tensors = [v.const_value for v in graph.initializers.values() if v.const_value is not None]
    return ModelSummary(
        inputs=[tensor_signature(v) for v in graph.inputs if not v.is_initializer()],
        outputs=[tensor_signature(v) for v in graph.outputs],
        nodes=len(graph),
        op_counts=dict(sorted(Counter(node.op_type for node in graph).items())),
        params=sum(math.prod(t.shape.numpy()) for t in tensors),
        param_bytes=sum(t.nbytes for t in tensors),
        flops=sum(c.flops for c in costs),
        macs=sum(c.macs for c in costs),
        opset=dict(model.opset_imports),
        ir_version=model.ir_version,
        producer=" ".join(p for p in (model.producer_name, model.producer_version) if p),
        subgraphs=sum(1 for _ in graph.subgraphs()),
        per_node=costs,
    )


def shape_of(model: ir.Model, *, dims: Mapping[str, int] | None = None) -> dict[str, tuple[int, ...]]:
    """Concrete shapes of every tensor whose shape inference can tell, symbolic dims set to ``dims`` or 1."""
    proto = checkable_proto(model)
    dims = dict(dims or {})
    for value_info in proto.graph.input:
        for dim in value_info.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.dim_value = dims.get(dim.dim_param, 1)
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except (onnx.shape_inference.InferenceError, RuntimeError):
        inferred = proto
    shapes: dict[str, tuple[int, ...]] = {}
    for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        tensor_type = info.type.tensor_type
        if tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in tensor_type.shape.dim):
            shapes[info.name] = tuple(d.dim_value for d in tensor_type.shape.dim)
    for value in model.graph.initializers.values():
        if value.const_value is not None and value.name:
            shapes[value.name] = tuple(value.const_value.shape.numpy())
    return shapes


def node_costs(model: ir.Model, *, dims: Mapping[str, int] | None = None) -> list[NodeCost]:
    """MACs and FLOPs of every node of the main graph (0 where shapes are unknown)."""
    shapes = shape_of(model, dims=dims)
    return [_cost(node_key(node, i), node, shapes) for i, node in enumerate(model.graph)]


def _shape(value: ir.Value | None, shapes: Mapping[str, tuple[int, ...]]) -> tuple[int, ...] | None:
    if value is None or value.name is None:
        return None
    return shapes.get(value.name)


def _cost(key: str, node: ir.Node, shapes: Mapping[str, tuple[int, ...]]) -> NodeCost:
    macs, flops = 0, 0
    out = _shape(node.outputs[0], shapes) if node.outputs else None
    inputs = [_shape(v, shapes) for v in node.inputs]
    if out is not None:
        macs, flops = _op_cost(node, out, inputs)
    return NodeCost(key, node.op_type, macs, flops)


def _op_cost(node: ir.Node, out: tuple[int, ...], inputs: list[tuple[int, ...] | None]) -> tuple[int, int]:
    size = math.prod(out)
    op = node.op_type
    if op in ("Conv", "ConvTranspose") and len(inputs) > 1 and inputs[1] is not None:
        weight = inputs[1]
        if op == "Conv":  # weight (C_out, C_in / group, k...)
            macs = size * math.prod(weight[1:])
        else:  # weight (C_in, C_out / group, k...)
            source = inputs[0]
            macs = math.prod(source) * math.prod(weight[1:]) if source else 0
        return macs, 2 * macs + (size if len(inputs) > 2 else 0)
    if op in ("Gemm", "MatMul") and inputs and inputs[0] is not None:
        transposed = op == "Gemm" and node.attributes.get_int("transA", 0)
        k = inputs[0][0] if transposed and len(inputs[0]) >= 2 else inputs[0][-1]
        macs = size * k
        return macs, 2 * macs + (size if op == "Gemm" and len(inputs) > 2 else 0)
    if op in _ELEMENTWISE:
        return 0, size
    if op in _NORMALISATION:
        return 0, _NORMALISATION[op] * size
    if op in ("MaxPool", "AveragePool"):
        kernel = node.attributes.get_ints("kernel_shape", [1])
        return 0, size * math.prod(kernel)
    if op in ("GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceSum", "ReduceMax") and inputs and inputs[0]:
        return 0, math.prod(inputs[0])
    return 0, 0
