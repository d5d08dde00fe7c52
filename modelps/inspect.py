"""Inspection: signature, node and op counts, parameters, FLOPs/MACs per node and in total.

FLOPs are counted as 2 x multiply-accumulates for Conv/ConvTranspose/Gemm/MatMul plus one
operation per output element for elementwise ops, activations and normalisations. They need
concrete input shapes: the model's own, or ``shapes`` / ``dims`` given by the caller. Where an
input dimension stays symbolic (or ``-1``) the totals are ``None`` and ``flops_note`` says which
dimension to give; nodes whose output shape cannot be inferred are left out and counted in the
note, never guessed. Parameters are counted wherever weights live: initializers of every graph
(``If``/``Loop``/``Scan`` bodies included), ``Constant`` nodes and local functions.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import onnx_ir as ir

from modelps.errors import ModelPSError
from modelps.names import node_key
from modelps.validate import INFERENCE_ERRORS, checkable_proto

__all__ = [
    "ModelSummary",
    "NodeCost",
    "node_costs",
    "parse_shape",
    "shape_of",
    "summarize",
    "tensor_signature",
    "weight_tensors",
]

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
_REDUCTIONS = frozenset({"GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceSum", "ReduceMax"})
_NORMALISATION = {"BatchNormalization": 2, "InstanceNormalization": 4, "LayerNormalization": 5, "Softmax": 3}


@dataclasses.dataclass(frozen=True)
class NodeCost:
    """The cost of one node: multiply-accumulates and floating-point operations."""

    node: str
    op_type: str
    macs: int | None
    flops: int | None
    """``None`` where the node has a cost but its shapes are unknown."""


@dataclasses.dataclass(frozen=True)
class ModelSummary:
    """What ``modelps inspect`` reports."""

    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    nodes: int
    op_counts: dict[str, int]
    params: int
    param_bytes: int
    flops: int | None
    macs: int | None
    opset: dict[str, int]
    ir_version: int
    producer: str
    subgraphs: int
    per_node: list[NodeCost]
    flops_note: str = ""
    """Why FLOPs are unknown or partial (symbolic dims, nodes of unknown shape), else empty."""
    functions: int = 0

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


_FLOATING = frozenset({ir.DataType.FLOAT, ir.DataType.FLOAT16, ir.DataType.BFLOAT16, ir.DataType.DOUBLE})


def weight_tensors(model: ir.Model) -> Iterator[ir.TensorProtocol]:
    """Every stored tensor of the model, wherever it lives.

    Initializers and ``Constant`` values of all graphs and local functions, and the float
    attributes of ``ai.onnx.ml`` nodes (scikit-learn weights live there).
    """
    graphs: list[Any] = list(model.graphs())
    for function in model.functions.values():
        graphs.extend([function, *function.subgraphs()])
    for graph in graphs:
        if isinstance(graph, ir.Graph):
            yield from (v.const_value for v in graph.initializers.values() if v.const_value is not None)
        for node in graph:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                tensor = _constant_tensor(node)
                if tensor is not None:
                    yield tensor
            elif node.domain == "ai.onnx.ml":
                yield from _ml_weights(node)


def _ml_weights(node: ir.Node) -> Iterator[ir.TensorProtocol]:
    for attr in node.attributes.values():
        if attr.type == ir.AttributeType.FLOATS and len(attr.value):
            yield ir.tensor(np.asarray(attr.value, np.float32))
        elif attr.type == ir.AttributeType.TENSOR:
            yield attr.as_tensor()


def _constant_tensor(node: ir.Node) -> ir.TensorProtocol | None:
    for attr in node.attributes.values():
        if attr.type == ir.AttributeType.TENSOR:
            return attr.as_tensor()
        if attr.type == ir.AttributeType.SPARSE_TENSOR:
            return None  # sparse constants are not counted (none of the exporters seen writes them)
        if attr.name in ("value_float", "value_int", "value_floats", "value_ints"):
            data = np.atleast_1d(np.asarray(attr.value, np.float32 if "float" in attr.name else np.int64))
            return ir.tensor(data if attr.name.endswith("s") else data.reshape(()))
    return None


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse ``name:1x3x640x640`` (or ``name:1,3,640,640``) into a name and a shape.

    Raises:
        ModelPSError: The text is not of that form.
    """
    name, sep, dims = text.rpartition(":")
    parts = dims.replace(",", "x").split("x") if dims else []
    if not sep or not name or not parts or not all(p.strip().isdigit() for p in parts):
        raise ModelPSError(f"shape {text!r} must look like NAME:1x3x640x640")
    return name, tuple(int(p) for p in parts)


def summarize(
    model: ir.Model, *, dims: Mapping[str, int] | None = None, shapes: Mapping[str, Sequence[int]] | None = None
) -> ModelSummary:
    """Summarize a model; ``shapes`` fixes input shapes by input name, ``dims`` symbolic dims by name."""
    graph = model.graph
    costs, note = _costs_and_note(model, dims, shapes)
    tensors = [t for t in weight_tensors(model) if t.dtype in _FLOATING]
    known = [c for c in costs if c.flops is not None]
    total_unknown = note.startswith("unknown")
    return ModelSummary(
        inputs=[tensor_signature(v) for v in graph.inputs if not v.is_initializer()],
        outputs=[tensor_signature(v) for v in graph.outputs],
        nodes=len(graph),
        op_counts=dict(sorted(Counter(node.op_type for node in graph).items())),
        params=sum(math.prod(t.shape.numpy()) for t in tensors),
        param_bytes=sum(t.nbytes for t in tensors),
        flops=None if total_unknown else sum(c.flops or 0 for c in known),
        macs=None if total_unknown else sum(c.macs or 0 for c in known),
        opset=dict(model.opset_imports),
        ir_version=model.ir_version,
        producer=" ".join(p for p in (model.producer_name, model.producer_version) if p),
        subgraphs=sum(1 for _ in graph.subgraphs()),
        per_node=costs,
        flops_note=note,
        functions=len(model.functions),
    )


def _input_shapes(
    model: ir.Model, dims: Mapping[str, int] | None, shapes: Mapping[str, Sequence[int]] | None
) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Concrete input shapes, and a description of every dimension that stays unknown."""
    dims, shapes = dict(dims or {}), dict(shapes or {})
    inputs = [v for v in model.graph.inputs if not v.is_initializer()]
    names = {v.name for v in inputs}
    unknown_names = sorted(set(shapes) - names)
    if unknown_names:
        raise ModelPSError(f"no input named {unknown_names[0]!r}; the inputs are {sorted(n for n in names if n)}")
    concrete: dict[str, tuple[int, ...]] = {}
    missing: list[str] = []
    for value in inputs:
        assert value.name is not None
        declared = list(value.shape) if value.shape is not None else None
        if value.name in shapes:
            given = tuple(shapes[value.name])
            if declared is not None and len(declared) != len(given):
                raise ModelPSError(f"input {value.name!r} has rank {len(declared)}, the shape given has {len(given)}")
            for index, dim in enumerate(declared or []):
                if isinstance(dim, int) and dim >= 0 and dim != given[index]:
                    raise ModelPSError(
                        f"input {value.name!r} has fixed dim {index} = {dim}, the shape given has {given[index]}"
                    )
            concrete[value.name] = given
            continue
        if declared is None:
            missing.append(f"{value.name} (no shape)")
            continue
        resolved = []
        for index, dim in enumerate(declared):
            if isinstance(dim, int) and dim >= 0:
                resolved.append(dim)
            elif isinstance(dim, ir.SymbolicDim) and dim.value in dims:
                resolved.append(int(dims[dim.value]))
            else:
                label = dim.value if isinstance(dim, ir.SymbolicDim) and dim.value else "?"
                missing.append(f"{value.name}[{index}]={label}")
        if len(resolved) == len(declared):
            concrete[value.name] = tuple(resolved)
    return concrete, missing


def shape_of(
    model: ir.Model, *, dims: Mapping[str, int] | None = None, shapes: Mapping[str, Sequence[int]] | None = None
) -> dict[str, tuple[int, ...]]:
    """Concrete shapes of every tensor that shape inference can tell from the concrete input shapes.

    Inputs whose shape stays symbolic are left symbolic; tensors depending on them get no entry.
    """
    concrete, _ = _input_shapes(model, dims, shapes)
    proto = checkable_proto(model)
    for value_info in proto.graph.input:
        if value_info.name not in concrete:
            continue
        tensor_shape = value_info.type.tensor_type.shape
        del tensor_shape.dim[:]
        for dim in concrete[value_info.name]:
            tensor_shape.dim.add(dim_value=dim)
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except INFERENCE_ERRORS:
        inferred = proto
    result: dict[str, tuple[int, ...]] = {}
    for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        tensor_type = info.type.tensor_type
        if tensor_type.HasField("shape") and all(
            d.HasField("dim_value") and d.dim_value >= 0 for d in tensor_type.shape.dim
        ):
            result[info.name] = tuple(d.dim_value for d in tensor_type.shape.dim)
    for value in model.graph.initializers.values():
        if value.const_value is not None and value.name:
            result[value.name] = tuple(value.const_value.shape.numpy())
    return result


def node_costs(
    model: ir.Model, *, dims: Mapping[str, int] | None = None, shapes: Mapping[str, Sequence[int]] | None = None
) -> list[NodeCost]:
    """MACs and FLOPs of every node of the main graph (``None`` where a costed node's shapes are unknown)."""
    return _costs_and_note(model, dims, shapes)[0]


def _costs_and_note(
    model: ir.Model, dims: Mapping[str, int] | None, shapes: Mapping[str, Sequence[int]] | None
) -> tuple[list[NodeCost], str]:
    _, missing = _input_shapes(model, dims, shapes)
    known = shape_of(model, dims=dims, shapes=shapes)
    costs = [_cost(node_key(node, i), node, known) for i, node in enumerate(model.graph)]
    if missing:
        return costs, (
            f"unknown for symbolic dims ({', '.join(missing)}): give --shape NAME:1x3x224x224 or --dim NAME=VALUE"
        )
    unknown = sum(1 for c in costs if c.flops is None)
    notes = []
    if unknown:
        notes.append(f"{unknown} node(s) of unknown output shape not counted")
    if any(True for _ in model.graph.subgraphs()):
        notes.append("If/Loop/Scan bodies not counted")
    return costs, "; ".join(notes)


def _shape(value: ir.Value | None, shapes: Mapping[str, tuple[int, ...]]) -> tuple[int, ...] | None:
    if value is None or value.name is None:
        return None
    return shapes.get(value.name)


def _cost(key: str, node: ir.Node, shapes: Mapping[str, tuple[int, ...]]) -> NodeCost:
    if not _has_cost(node):
        return NodeCost(key, node.op_type, 0, 0)
    out = _shape(node.outputs[0], shapes) if node.outputs else None
    inputs = [_shape(v, shapes) for v in node.inputs]
    if out is None:
        return NodeCost(key, node.op_type, None, None)
    macs, flops = _op_cost(node, out, inputs)
    return NodeCost(key, node.op_type, macs, flops)


def _has_cost(node: ir.Node) -> bool:
    op = node.op_type
    return (
        op in ("Conv", "ConvTranspose", "Gemm", "MatMul", "MaxPool", "AveragePool")
        or op in _ELEMENTWISE
        or op in _NORMALISATION
        or op in _REDUCTIONS
    )


def _op_cost(
    node: ir.Node, out: tuple[int, ...], inputs: list[tuple[int, ...] | None]
) -> tuple[int | None, int | None]:
    size = math.prod(out)
    op = node.op_type
    if op in ("Conv", "ConvTranspose"):
        weight = inputs[1] if len(inputs) > 1 else None
        source = inputs[0] if inputs else None
        if weight is None or (op == "ConvTranspose" and source is None):
            return None, None
        if op == "Conv":  # weight (C_out, C_in / group, k...)
            macs = size * math.prod(weight[1:])
        else:  # weight (C_in, C_out / group, k...)
            assert source is not None
            macs = math.prod(source) * math.prod(weight[1:])
        return macs, 2 * macs + (size if len(inputs) > 2 else 0)
    if op in ("Gemm", "MatMul"):
        if not inputs or inputs[0] is None or not inputs[0]:
            return None, None
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
    if op in _REDUCTIONS:
        return (0, math.prod(inputs[0])) if inputs and inputs[0] is not None else (None, None)
    return 0, 0
