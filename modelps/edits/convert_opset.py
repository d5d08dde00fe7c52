"""``convert_opset``: convert the model to another ONNX opset with ``onnx.version_converter``."""

from __future__ import annotations

import dataclasses

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
    rebuilt as a whole (undo swaps the old one back). Other domains are left as they are.

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
        return onnx.version_converter.convert_version(proto, self.target)
