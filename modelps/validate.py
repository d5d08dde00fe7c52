"""Validation of models: structure, ONNX checker, shape inference and ONNX Runtime.

Levels, each including the ones before it:

``structure``
    nodes in topological order, no cycles, every input produced by something (no dangling
    tensors), unique tensor names, every graph output produced. Linear in the graph size.
``full``
    ``onnx.checker`` and strict shape inference, run on a *weightless* copy of the model (large
    weights are replaced by references to an empty stub file), so the cost does not grow with
    the weights and models over 2 GB are checked the same way. The checker's verdict is final;
    shape inference is a stricter, optional pass: when it fails (with or without data
    propagation) on a model that ONNX Runtime loads, its message is a *warning*, not a refusal
    (shape inference has false alarms, e.g. on same-named tensors in two ``If`` branches).
``runtime``
    ONNX Runtime builds an inference session from the model.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import networkx as nx
import onnx
import onnx_ir as ir

from modelps.errors import ValidationError, first_line

__all__ = [
    "INFERENCE_ERRORS",
    "Level",
    "check_full",
    "check_runtime",
    "check_structure",
    "checkable_proto",
    "first_line",
    "infer_value_types",
    "types_from_proto",
    "validate",
    "weightless_proto",
]

logger = logging.getLogger(__name__)

Level = Literal["none", "structure", "full", "runtime"]
LEVELS: tuple[Level, ...] = ("none", "structure", "full", "runtime")
_STUB = "__modelps_weight_stub__"
INFERENCE_ERRORS = (onnx.shape_inference.InferenceError, RuntimeError, ValueError)
"""What ONNX shape inference raises on a model it cannot infer (C++ errors surface as all three)."""
_INLINE_LIMIT = 1024


Types = dict[str, tuple[ir.TypeProtocol, ir.Shape | None]]


def validate(
    model: ir.Model, level: Level = "full", *, structure: bool = True, warnings: list[str] | None = None
) -> Types | None:
    """Run the checks of ``level`` and those below it.

    ``structure=False`` skips the structural walk; callers pass it when they know connectivity
    did not change since the last successful check (attribute edits, renames). Findings of the
    optional stricter passes are appended to ``warnings`` (and logged) instead of raised.

    Returns:
        At ``full`` and ``runtime``, the tensor types found by shape inference (by name).

    Raises:
        ValidationError: The first failed check, naming the node or tensor at fault.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown validation level {level!r}; choose from {LEVELS}")
    if level == "none":
        return None
    if structure:
        check_structure(model)
    if level == "structure":
        return None
    found: list[str] = []
    types = types_from_proto(check_full(model, found))
    if level == "runtime" and not found:  # a warning already came with a successful ONNX Runtime load
        check_runtime(model)
    for warning in found:
        logger.warning("%s", warning)
    if warnings is not None:
        warnings.extend(found)
    return types


def check_structure(model: ir.Model) -> None:
    """Check order, cycles, dangling tensors, name clashes and outputs of the main graph."""
    graph = model.graph
    known: set[ir.Value] = set(graph.inputs)
    known.update(graph.initializers.values())
    names: dict[str | None, ir.Value] = {}
    for value in known:
        _claim_name(names, value)
    for node in graph:  # one tight loop: it runs after every edit
        for value in node.inputs:
            if value is not None and value not in known:
                _raise_missing(graph, node, value)
        for value in node.outputs:
            if names.setdefault(value.name, value) is not value and value.name is not None:
                raise ValidationError(f"two different tensors are named {value.name!r}")
            known.add(value)
    for value in graph.outputs:
        if value not in known:
            raise ValidationError(f"graph output {value.name!r} is not produced by any node")


def _claim_name(names: dict[str | None, ir.Value], value: ir.Value) -> None:
    other = names.setdefault(value.name, value)
    if other is not value and value.name is not None:
        raise ValidationError(f"two different tensors are named {value.name!r}")


def _raise_missing(graph: ir.Graph, node: ir.Node, value: ir.Value) -> None:
    producer = value.producer()
    label = node.name or node.op_type
    if producer is None or producer.graph is not graph:
        if value.graph is not None and value.graph is not graph:
            return  # an outer-scope value seen from a subgraph
        raise ValidationError(f"node {label!r} reads tensor {value.name!r}, which nothing produces (dangling)")
    cycle = _find_cycle(graph)
    if cycle:
        path = " -> ".join(cycle)
        raise ValidationError(f"the graph has a cycle: {path}")
    raise ValidationError(
        f"node {label!r} reads tensor {value.name!r} before node {producer.name or producer.op_type!r} produces it "
        "(not in topological order)"
    )


def _find_cycle(graph: ir.Graph) -> list[str]:
    digraph = nx.DiGraph()
    for node in graph:
        for value in node.inputs:
            producer = value.producer() if value is not None else None
            if producer is not None and producer.graph is graph:
                digraph.add_edge(id(producer), id(node))
    labels = {id(n): n.name or n.op_type for n in graph}
    try:
        edges = nx.find_cycle(digraph)
    except nx.NetworkXNoCycle:
        return []
    return [labels[a] for a, _ in edges] + [labels[edges[0][0]]]


@contextlib.contextmanager
def _stubbed_weights(model: ir.Model, stub_dir: str, *, main_only: bool = False) -> Iterator[None]:
    """Temporarily point large initializers of every graph (or the main one) at an empty stub file."""
    swapped: list[tuple[ir.Value, ir.TensorProtocol]] = []
    graphs = [model.graph] if main_only else list(model.graphs())
    try:
        for graph in graphs:
            for value in graph.initializers.values():
                tensor = value.const_value
                if tensor is None or tensor.nbytes <= _INLINE_LIMIT:
                    continue
                stub = ir.ExternalTensor(
                    _STUB, 0, tensor.nbytes, tensor.dtype, shape=tensor.shape, name=value.name or "", base_dir=stub_dir
                )
                swapped.append((value, tensor))
                value.const_value = stub
        yield
    finally:
        for value, tensor in swapped:
            value.const_value = tensor


def weightless_proto(model: ir.Model, stub_dir: str) -> onnx.ModelProto:
    """Serialize ``model`` with initializers over 1 KiB replaced by references into ``stub_dir``."""
    with _stubbed_weights(model, stub_dir):
        return ir.to_proto(model)


def checkable_proto(model: ir.Model) -> onnx.ModelProto:
    """A weightless proto for the checker and shape inference, needing no files at all.

    Large initializers of the main graph become graph inputs of the same type and shape: the
    checker accepts them and shape inference only needs their shapes. Small ones (shape tensors,
    scalars) stay inline so that data propagation still sees their values.
    """
    with _stubbed_weights(model, "", main_only=True):
        proto = ir.to_proto(model)
    graph = proto.graph
    declared = {value.name for value in graph.input}
    kept = []
    for tensor in graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            kept.append(tensor)
            continue
        if tensor.name not in declared:
            info = graph.input.add(name=tensor.name)
            info.type.tensor_type.elem_type = tensor.data_type
            shape = info.type.tensor_type.shape
            for dim in tensor.dims:
                shape.dim.add(dim_value=dim)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return proto


@contextlib.contextmanager
def _stub_folder() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="modelps-validate-") as folder:
        Path(folder, _STUB).touch()
        yield folder


def check_full(model: ir.Model, warnings: list[str] | None = None) -> onnx.ModelProto:
    """Run ``onnx.checker`` and strict shape inference; return the inferred (weightless) proto.

    When shape inference fails but ONNX Runtime loads the model, the failure goes to ``warnings``
    (when given; otherwise it is raised) and the proto inferred without the failing pass is returned.
    """
    proto = checkable_proto(model)
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise ValidationError(f"onnx checker: {first_line(exc)}") from exc
    try:
        return onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True, data_prop=True)
    except INFERENCE_ERRORS as exc:
        strict = exc
    if warnings is None:
        raise ValidationError(f"shape inference: {first_line(strict)}") from strict
    try:
        check_runtime(model)
    except ValidationError as exc:
        raise ValidationError(f"shape inference: {first_line(strict)}") from exc
    warnings.append(f"shape inference (a stricter pass; ONNX Runtime loads the model): {first_line(strict)}")
    for options in ({"strict_mode": True}, {}):
        try:
            return onnx.shape_inference.infer_shapes(proto, **options)
        except INFERENCE_ERRORS:
            continue
    return proto


def infer_value_types(model: ir.Model) -> Types:
    """Run shape inference (non-strict) and return each tensor's type and shape by name."""
    proto = checkable_proto(model)
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except INFERENCE_ERRORS as exc:
        logger.debug("shape inference failed: %s", exc)
        return {}
    return types_from_proto(inferred)


def types_from_proto(inferred: onnx.ModelProto) -> Types:
    """Tensor types and shapes by name from a shape-inferred model proto."""
    result: Types = {}
    for info in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]:
        if info.type.HasField("tensor_type") and info.type.tensor_type.elem_type:
            type_ = ir.serde.deserialize_type_proto_for_type(info.type)
            shape = ir.serde.deserialize_type_proto_for_shape(info.type)
            if type_ is not None:
                result[info.name] = (type_, shape)
    return result


def check_runtime(model: ir.Model) -> None:
    """Build an ONNX Runtime CPU session from the model."""
    from modelps.runtime import session_for

    try:
        session_for(model)
    except ValidationError:
        raise
    except Exception as exc:  # ORT raises its own exception types
        raise ValidationError(f"ONNX Runtime cannot load the model: {first_line(exc)}") from exc
