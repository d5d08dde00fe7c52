"""``merge``: feed this model's outputs into another model's inputs, making one model."""

from __future__ import annotations

import dataclasses

import onnx
import onnx_ir as ir

from modelps import io
from modelps.edits._base import Edit, register
from modelps.edits._graphs import file_digest, name_unnamed_nodes, transform_weightless
from modelps.edits.convert_opset import default_opset, min_ir_version
from modelps.errors import ModelPSError
from modelps.tape import Tape

__all__ = ["Merge"]


@register
@dataclasses.dataclass(frozen=True)
class Merge(Edit):
    """Append the model in file ``model`` after this one, wiring outputs to its inputs.

    ``connections`` maps this model's output names to the other model's input names (as named in
    its file, before ``prefix``). Every tensor and node name of the other model, inside its
    subgraphs too, gets ``prefix``. The merged model's inputs are this model's inputs, then the
    other model's unconnected inputs; its outputs are this model's outputs (without the connected
    ones unless ``keep_outputs``), then the other model's outputs. The other file is read with
    :func:`modelps.io.load` (relative paths from the working directory); its SHA-256 is recorded
    in ``sha256`` when the edit is made and checked on replay. The model with the lower default
    opset is upgraded to the other's with ``onnx.version_converter``. The model is rebuilt as a
    whole (undo swaps the old one back).

    Refuses: a missing, unsafe or changed file, an empty ``connections``, an unknown output or
    input name, an input that is an initializer or passes straight to an output, element types
    or static dims that differ (the message names both tensors), a conflicting version of a
    custom domain, an opset upgrade the converter cannot do, and names that clash after ``prefix``
    (choose a prefix).
    """

    op = "merge"
    model: str
    connections: dict[str, str]
    prefix: str = ""
    keep_outputs: bool = False
    sha256: str | None = None

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", file_digest(self.model, self.op))

    def apply(self, tape: Tape) -> None:
        """Apply the edit through ``tape`` (see the class docstring)."""
        if not self.connections:
            raise self.fail("connections is empty; map at least one output to an input of the other model")
        other = self._load()
        first = tape.model.clone()
        first, other = self._match_opsets(first, other)
        name_unnamed_nodes(other.graph)
        _prefix_names(other, self.prefix)
        self._check_clashes(first, other)
        pairs = [self._pair(first, other, out, inp) for out, inp in sorted(self.connections.items())]
        self._splice(first, other, pairs)
        tape.replace_model(first)

    def _load(self) -> ir.Model:
        digest = file_digest(self.model, self.op)
        if digest != self.sha256:
            raise self.fail(
                f"{self.model!r} has changed: its sha256 is {digest[:12]}…, the recipe expects {self.sha256}"
            )
        try:
            return io.load(self.model)
        except ModelPSError as exc:  # not ONNX, truncated, or unsafe external data
            raise self.fail(f"cannot use the other model: {exc}") from None

    def _match_opsets(self, first: ir.Model, other: ir.Model) -> tuple[ir.Model, ir.Model]:
        """Bring both models to the higher default opset; merge the other domains' imports."""
        mine, theirs = default_opset(first), default_opset(other)
        if mine is not None and theirs is not None and theirs != mine:
            if theirs < mine:
                other = self._upgrade(other, theirs, mine, "the other model")
            else:
                first = self._upgrade(first, mine, theirs, "this model")
                name_unnamed_nodes(first.graph)
        for domain, version in sorted(other.opset_imports.items()):
            if domain in ("", "ai.onnx"):
                continue
            if first.opset_imports.get(domain, version) != version:
                raise self.fail(
                    f"domain {domain!r} is imported at version {first.opset_imports[domain]} here and {version} "
                    "in the other model"
                )
            first.opset_imports[domain] = version
        if mine is None and theirs is not None:
            first.opset_imports[""] = theirs
        highest = max(mine or 0, theirs or 0)
        first.ir_version = max(first.ir_version, other.ir_version, min_ir_version(highest) if highest else 0)
        return first, other

    def _upgrade(self, model: ir.Model, current: int, target: int, label: str) -> ir.Model:
        try:
            return transform_weightless(model, lambda p: onnx.version_converter.convert_version(p, target))
        except (RuntimeError, ValueError, IndexError) as exc:
            reason = " ".join(str(exc).split())[:300]
            raise self.fail(f"cannot upgrade {label} from opset {current} to {target}: {reason}") from None

    def _check_clashes(self, first: ir.Model, other: ir.Model) -> None:
        taken = _all_names(first)
        clashes = sorted(taken & _all_names(other))
        if clashes:
            shown = ", ".join(repr(n) for n in clashes[:5])
            more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
            raise self.fail(f"names {shown}{more} exist in both models; set a prefix for the other model's names")
        for key in other.functions:
            if key in first.functions:
                raise self.fail(f"both models define function {key[1]!r} in domain {key[0]!r}")

    def _pair(self, first: ir.Model, other: ir.Model, out_name: str, in_name: str) -> tuple[ir.Value, ir.Value]:
        source = next((v for v in first.graph.outputs if v.name == out_name), None)
        if source is None:
            names = [v.name for v in first.graph.outputs]
            raise self.fail(f"this model has no output {out_name!r}; outputs are {names}")
        target = next((v for v in other.graph.inputs if v.name == self.prefix + in_name), None)
        if target is None or target.is_initializer():
            names = [v.name[len(self.prefix) :] for v in other.graph.inputs if v.name and not v.is_initializer()]
            raise self.fail(f"the other model has no input {in_name!r}; inputs are {names}")
        if target.is_graph_output():
            raise self.fail(f"input {in_name!r} of the other model is also one of its outputs")
        if source.dtype is not None and target.dtype is not None and source.dtype != target.dtype:
            raise self.fail(
                f"output {out_name!r} is {source.dtype.name} but input {in_name!r} of the other model is "
                f"{target.dtype.name}"
            )
        if source.shape is not None and target.shape is not None and not _shapes_fit(source.shape, target.shape):
            raise self.fail(
                f"output {out_name!r} has shape {_show(source.shape)} but input {in_name!r} of the other model "
                f"expects {_show(target.shape)}"
            )
        return source, target

    def _splice(self, first: ir.Model, other: ir.Model, pairs: list[tuple[ir.Value, ir.Value]]) -> None:
        graph, theirs = first.graph, other.graph
        connected = {id(target) for _, target in pairs}
        for source, target in pairs:
            target.replace_all_uses_with(source)
        free_inputs = [v for v in theirs.inputs if id(v) not in connected and not v.is_initializer()]
        their_outputs = list(theirs.outputs)
        theirs.inputs.clear()
        theirs.outputs.clear()
        nodes = list(theirs)
        theirs.remove(nodes)
        initializers = list(theirs.initializers.values())
        theirs.initializers.clear()
        graph.extend(nodes)
        for value in initializers:
            graph.register_initializer(value)
        graph.inputs.extend(free_inputs)
        sources = {id(source) for source, _ in pairs}
        kept = [v for v in graph.outputs if self.keep_outputs or id(v) not in sources]
        graph.outputs.clear()
        graph.outputs.extend([*kept, *their_outputs])
        for key, function in other.functions.items():
            first.functions[key] = function


def _prefix_names(model: ir.Model, prefix: str) -> None:
    """Prefix every tensor and node name of ``model`` (all graphs; initializers re-keyed)."""
    if not prefix:
        return
    for graph in model.graphs():
        initializers = list(graph.initializers.values())
        graph.initializers.clear()
        seen: set[int] = set()
        values = [*graph.inputs, *initializers, *(o for n in graph for o in n.outputs)]
        for value in values:
            if id(value) not in seen and value.name:
                seen.add(id(value))
                value.name = prefix + value.name
        for value in initializers:
            graph.register_initializer(value)
        for node in graph:
            if node.name:
                node.name = prefix + node.name


def _all_names(model: ir.Model) -> set[str]:
    names: set[str] = set()
    for graph in model.graphs():
        names.update(v.name for v in graph.inputs if v.name)
        names.update(graph.initializers)
        for node in graph:
            names.update(o.name for o in node.outputs if o.name)
    names.update(n.name for n in model.graph if n.name)
    return names


def _shapes_fit(a: ir.Shape, b: ir.Shape) -> bool:
    if a.rank() != b.rank():
        return False
    return all(not (isinstance(x, int) and isinstance(y, int)) or x == y for x, y in zip(a.dims, b.dims, strict=True))


def _show(shape: ir.Shape) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else repr(d.value) for d in shape.dims) + "]"
