"""Graph helpers shared by the edits: downstream tensors, type refresh, subgraph owners, naming."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator

import onnx
import onnx_ir as ir

from modelps.errors import EditError
from modelps.tape import Tape
from modelps.validate import _STUB as STUB_NAME
from modelps.validate import INFERENCE_ERRORS, infer_value_types, weightless_proto
from modelps.validate import _stub_folder as stub_folder

__all__ = [
    "current_types",
    "downstream_values",
    "file_digest",
    "has_subgraphs",
    "infer_types_of",
    "inner_nodes",
    "name_unnamed_nodes",
    "refresh_types",
    "subgraph_owners",
    "transform_weightless",
]


def has_subgraphs(node: ir.Node) -> bool:
    """Whether a node holds graph attributes (``If``, ``Loop``, ``Scan``, ...)."""
    return any(attr.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS) for attr in node.attributes.values())


def _subgraphs(node: ir.Node) -> Iterator[ir.Graph]:
    for attr in node.attributes.values():
        if attr.type == ir.AttributeType.GRAPH:
            yield attr.as_graph()  # type: ignore[misc]
        elif attr.type == ir.AttributeType.GRAPHS:
            yield from attr.as_graphs()  # type: ignore[misc]


def inner_nodes(node: ir.Node) -> Iterator[ir.Node]:
    """Yield every node inside ``node``'s subgraphs, at any depth."""
    for graph in _subgraphs(node):
        for inner in graph:
            yield inner
            yield from inner_nodes(inner)


def subgraph_owners(graph: ir.Graph) -> dict[int, ir.Node]:
    """Map ``id(node)`` of every node nested in a subgraph to the main-graph node that holds it."""
    owners: dict[int, ir.Node] = {}
    for node in graph:
        for inner in inner_nodes(node):
            owners[id(inner)] = node
    return owners


def downstream_values(graph: ir.Graph, starts: Iterable[ir.Value]) -> list[ir.Value]:
    """Node outputs of the main graph that depend on ``starts`` (starts included), in graph order.

    A use inside a subgraph counts as a use by the main-graph node that holds the subgraph.
    """
    owners = subgraph_owners(graph)
    seen_nodes: set[int] = set()
    stack = list(starts)
    result_ids: set[int] = {id(v) for v in stack}
    while stack:
        value = stack.pop()
        for usage in value.uses():
            user = usage.node if usage.node.graph is graph else owners.get(id(usage.node))
            if user is None or id(user) in seen_nodes:
                continue
            seen_nodes.add(id(user))
            for out in user.outputs:
                if id(out) not in result_ids:
                    result_ids.add(id(out))
                    stack.append(out)
    ordered = [v for node in graph for v in node.outputs if id(v) in result_ids]
    return ordered


def current_types(tape: Tape) -> dict[str, tuple[ir.TypeProtocol, ir.Shape | None]]:
    """Tensor types of the model *before* this edit changes it (cached on the model holder).

    Call it only before the first change made through ``tape``.
    """
    if tape.holder.types is None:
        tape.holder.types = infer_value_types(tape.model)
    return tape.holder.types


def infer_types_of(model: ir.Model, names: set[str]) -> dict[str, tuple[ir.TypeProtocol, ir.Shape | None]]:
    """Like :func:`~modelps.validate.infer_value_types`, but only for the tensors in ``names``.

    Converting every inferred type back to ``onnx_ir`` dominates shape inference on large graphs,
    so only the asked-for ones are converted.
    """
    with stub_folder() as folder:
        proto = weightless_proto(model, folder)
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except INFERENCE_ERRORS:
        return {}
    result: dict[str, tuple[ir.TypeProtocol, ir.Shape | None]] = {}
    for infos in (inferred.graph.value_info, inferred.graph.output, inferred.graph.input):
        for info in infos:
            if info.name not in names or not info.type.HasField("tensor_type"):
                continue
            if not info.type.tensor_type.elem_type:
                continue
            type_ = ir.serde.deserialize_type_proto_for_type(info.type)
            if type_ is not None:
                result[info.name] = (type_, ir.serde.deserialize_type_proto_for_shape(info.type))
    return result


def refresh_types(
    tape: Tape, starts: Iterable[ir.Value], also: Iterable[ir.Value] = ()
) -> dict[str, tuple[ir.TypeProtocol, ir.Shape | None]]:
    """Re-infer the types and shapes of the tensors downstream of ``starts`` after a change.

    Declared types and shapes are replaced by what shape inference now finds; where it finds no
    shape (e.g. some ``Loop`` outputs), the declaration is kept and left to validation. Tensors
    that had no declared type keep none. Returns what shape inference found for those tensors and
    for ``also``, by name.
    """
    values = downstream_values(tape.graph, starts)
    typed = [v for v in values if v.type is not None or v.is_graph_output()]
    old = {id(v): (v.type, v.shape) for v in typed}
    for value in typed:
        if value.type is not None or value.shape is not None:
            tape.set_value_type(value, None, None)
    wanted = {v.name for v in [*typed, *also] if v.name}
    inferred = infer_types_of(tape.model, wanted)
    for value in typed:
        found = inferred.get(value.name or "")
        if found is not None and found[1] is not None:
            tape.set_value_type(value, *found)
        else:
            tape.set_value_type(value, *old[id(value)])
    return inferred


def name_unnamed_nodes(graph: ir.Graph, prefix: str = "n") -> None:
    """Give every unnamed main-graph node a stable name ``<prefix><index>`` (not recorded on a tape)."""
    taken = {node.name for node in graph if node.name}
    for index, node in enumerate(graph):
        if not node.name:
            name = f"{prefix}{index}"
            while name in taken:
                name = f"{name}_"
            node.name = name
            taken.add(name)


def transform_weightless(model: ir.Model, transform: Callable[[onnx.ModelProto], onnx.ModelProto]) -> ir.Model:
    """Run a proto-to-proto ``transform`` on a weightless copy of ``model`` and rebuild it.

    Initializers over 1 KiB travel as references to an empty stub file, so the transform never
    holds the weights (models over 2 GB work); afterwards every stub reference is pointed back at
    the original tensor object (shared, not copied). The transform must not read weight data.
    """
    originals: dict[str, ir.TensorProtocol] = {}
    for graph in model.graphs():
        for name, value in graph.initializers.items():
            if value.const_value is not None:
                originals.setdefault(name, value.const_value)
    with stub_folder() as folder:
        proto = transform(weightless_proto(model, folder))
        new = ir.serde.deserialize_model(proto)
    for graph in new.graphs():
        for name, value in graph.initializers.items():
            tensor = value.const_value
            if isinstance(tensor, ir.ExternalTensor) and tensor.location == STUB_NAME:
                value.const_value = originals[name]
    return new


def file_digest(path: str, op: str) -> str:
    """Return the SHA-256 of the file at ``path`` (relative to the working directory).

    Raises:
        EditError: The file cannot be read.
    """
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError as exc:
        raise EditError(f"cannot read {path!r}: {exc.strerror}", op=op) from None
