"""``convert_opset``: convert the model to another ONNX opset with ``onnx.version_converter``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import onnx
import onnx_ir as ir

from modelps.edits._base import Edit, register
from modelps.edits._graphs import name_unnamed_nodes, transform_weightless
from modelps.tape import Tape

__all__ = ["ConvertOpset", "default_opset", "min_ir_version"]

_MIN_OPSET = 7
# The lowest IR version that may import each default-domain opset (from onnx's release table).
_IR_FOR_OPSET = {
    7: 3,
    8: 3,
    9: 4,
    10: 5,
    11: 6,
    12: 7,
    13: 7,
    14: 7,
    15: 8,
    16: 8,
    17: 8,
    18: 8,
    19: 9,
    20: 9,
    21: 10,
    22: 10,
    23: 11,
    24: 12,
    25: 13,
    26: 13,
    27: 13,
    28: 14,
}


def min_ir_version(opset: int) -> int:
    """Return the lowest IR version a model importing default-domain ``opset`` may declare."""
    return _IR_FOR_OPSET.get(opset, max(_IR_FOR_OPSET.values()))


def default_opset(model: ir.Model) -> int | None:
    """Return the version of the default ONNX domain the model imports, if any."""
    imports = model.opset_imports
    return imports.get("", imports.get("ai.onnx"))


@register
@dataclasses.dataclass(frozen=True)
class ConvertOpset(Edit):
    """Convert the model to ONNX opset ``target`` (up or down) with ``onnx.version_converter``.

    The conversion runs on a weightless copy (weights are shared, never copied), so models over
    2 GB convert too; nodes the converter adds without a name get ``n<index>`` names. The model is
    rebuilt as a whole (undo swaps the old one back). Local functions are converted too, each
    body on its own. Other domains are left as they are.

    Refuses: the opset the model already has, a target below 7 or above what the installed
    ``onnx`` knows, a model without the default domain, and any conversion the converter cannot
    do (an operator that does not exist at the target, e.g. ``Gelu`` below 20, or an adapter
    that is missing); the message carries the converter's reason.
    """

    op = "convert_opset"
    preserves_function = True
    target: int

    def apply(self, tape: Tape) -> None:
        """Apply the edit through ``tape`` (see the class docstring)."""
        current = default_opset(tape.model)
        latest = onnx.defs.onnx_opset_version()
        if current is None:
            raise self.fail("the model does not import the default ONNX domain")
        if self.target == current:
            raise self.fail(f"the model already uses opset {current}")
        if not _MIN_OPSET <= self.target <= latest:
            raise self.fail(f"target opset {self.target} is outside {_MIN_OPSET}..{latest} (the installed onnx)")
        try:
            new = transform_weightless(tape.model, self._convert)
        except (RuntimeError, ValueError, IndexError, onnx.checker.ValidationError) as exc:
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise self.fail(f"cannot convert from opset {current} to {self.target}: {reason}") from None
        name_unnamed_nodes(new.graph)
        new.ir_version = max(new.ir_version, min_ir_version(self.target))
        tape.replace_model(new)

    def _convert(self, proto: onnx.ModelProto) -> onnx.ModelProto:
        converted = onnx.version_converter.convert_version(proto, self.target)
        if proto.functions and not converted.functions:  # the converter drops local functions
            converted.functions.extend(_functions_at(proto, self.target))
            known = {o.domain for o in converted.opset_import}
            converted.opset_import.extend(o for o in proto.opset_import if o.domain not in known)
        return converted


def _functions_at(proto: onnx.ModelProto, target: int) -> list[onnx.FunctionProto]:
    """The model's local functions, their bodies converted to ``target`` one by one.

    The converter drops local functions; each body goes through it as a graph of its own.

    Raises:
        ValueError: A function body cannot be converted (the converter's reason is given).
    """
    functions = []
    for function in proto.functions:
        if not any(o.domain in ("", "ai.onnx") for o in function.opset_import):
            functions.append(function)
            continue
        body = onnx.GraphProto(name=function.name)
        body.node.extend(function.node)
        body.input.extend(onnx.ValueInfoProto(name=name) for name in function.input)
        body.output.extend(onnx.ValueInfoProto(name=name) for name in function.output)
        wrapper = onnx.ModelProto(ir_version=proto.ir_version, graph=body)
        wrapper.opset_import.extend(function.opset_import)
        try:
            converted = onnx.version_converter.convert_version(wrapper, target)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise ValueError(f"local function {function.name!r}: {' '.join(str(exc).split())[:200]}") from exc
        moved = onnx.FunctionProto()
        moved.CopyFrom(function)
        del moved.node[:]
        moved.node.extend(_with_attribute_references(function, converted.graph.node))
        for opset in moved.opset_import:
            if opset.domain in ("", "ai.onnx"):
                opset.version = target
        functions.append(moved)
    return functions


def _with_attribute_references(function: onnx.FunctionProto, nodes: Sequence[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """Converted nodes with the function's attribute references (``@axis``) put back.

    The converter resolves a reference to the attribute's default value; the references are
    restored node by node, which needs the body's structure unchanged.

    Raises:
        ValueError: The converter changed the nodes of a body that has attribute references.
    """
    refs = [[a for a in node.attribute if a.ref_attr_name] for node in function.node]
    if not any(refs):
        return list(nodes)
    if [n.op_type for n in nodes] != [n.op_type for n in function.node]:
        raise ValueError(f"local function {function.name!r}: its body changed and it has attribute references")
    out = []
    for node, node_refs in zip(nodes, refs, strict=True):
        fixed = onnx.NodeProto()
        fixed.CopyFrom(node)
        names = {a.name for a in node_refs}
        kept = [a for a in fixed.attribute if a.name not in names]
        del fixed.attribute[:]
        fixed.attribute.extend([*kept, *node_refs])
        out.append(fixed)
    return out
