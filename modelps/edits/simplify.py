"""``simplify``: constant folding and graph clean-up with onnxsim or the onnxscript optimizer."""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal

import onnx_ir as ir

from modelps.edits._base import Edit, register
from modelps.edits._graphs import name_unnamed_nodes
from modelps.tape import Tape

__all__ = ["Simplify", "weight_bytes"]

logger = logging.getLogger(__name__)

# onnxsim serializes the whole model (weights included) into one protobuf, which cannot exceed 2 GB.
_ONNXSIM_LIMIT = 1_800_000_000


def weight_bytes(model: ir.Model) -> int:
    """Total bytes of the initializers of every graph of ``model``."""
    return sum(
        v.const_value.nbytes for g in model.graphs() for v in g.initializers.values() if v.const_value is not None
    )


@register
@dataclasses.dataclass(frozen=True)
class Simplify(Edit):
    """Simplify the whole model: fold constants, drop dead and redundant nodes.

    ``method``:
      * ``onnxsim`` (default): ``onnxsim.simplify`` (constant folding with ONNX Runtime, shape
        inference, fusions such as Conv+BatchNorm) without its random-input check (every edit is
        validated afterwards anyway);
      * ``optimize``: ``onnxscript.optimizer.optimize_ir`` on a copy that shares the weights
        (constant folding of small tensors, dead-code removal, function inlining), which never
        serializes the model and so works on models over 2 GB.

    The result is deterministic (replaying gives the same bytes); nodes left without a name get
    ``n<index>``. The model is rebuilt as a whole (undo swaps the old one back). Outputs stay
    equal up to float rounding of folded constants.

    Refuses: ``onnxsim`` on a model whose weights exceed 1.8 GB (use ``optimize``), and any
    failure of the simplifier (custom operators it cannot run, ...), with its reason.
    """

    op = "simplify"
    preserves_function = True
    method: Literal["onnxsim", "optimize"] = "onnxsim"

    def apply(self, tape: Tape) -> None:
        """Apply the edit through ``tape`` (see the class docstring)."""
        new = self._onnxsim(tape.model) if self.method == "onnxsim" else self._optimize(tape.model)
        name_unnamed_nodes(new.graph)
        tape.replace_model(new)

    def _onnxsim(self, model: ir.Model) -> ir.Model:
        size = weight_bytes(model)
        if size > _ONNXSIM_LIMIT:
            raise self.fail(
                f"the weights take {size / 1e9:.1f} GB, too much for onnxsim (one protobuf, 2 GB at most); "
                "use method 'optimize'"
            )
        try:
            import onnxsim
        except ImportError:
            raise self.fail("method 'onnxsim' needs the onnxsim package (pip install onnxsim)") from None

        try:
            # onnxsim must see the weights inline: external references would be read relative to
            # the working directory. Loading them into a copy leaves the model itself untouched.
            inline = ir.external_data.load_to_model(model.clone())
            simplified, _ = onnxsim.simplify(ir.to_proto(inline), check_n=0)
        except Exception as exc:  # onnxsim raises plain RuntimeError/ValueError/AssertionError
            raise self.fail(f"onnxsim cannot simplify the model: {_reason(exc)}") from None
        return ir.serde.deserialize_model(simplified)

    def _optimize(self, model: ir.Model) -> ir.Model:
        try:
            from onnxscript import optimizer
        except ImportError:
            raise self.fail("method 'optimize' needs the onnxscript package (pip install onnxscript)") from None

        copy = model.clone()
        _own_attribute_tensors(copy)
        tensors = [v.const_value for g in copy.graphs() for v in g.initializers.values() if v.const_value is not None]
        shared = [(tensor, tensor.name) for tensor in tensors]
        try:
            optimizer.optimize_ir(copy)
        except Exception as exc:  # the optimizer raises many types on unusual graphs
            raise self.fail(f"the optimizer cannot simplify the model: {_reason(exc)}") from None
        finally:
            for tensor, name in shared:  # the optimizer renames tensors the original model shares
                tensor.name = name
        return copy


def _own_attribute_tensors(model: ir.Model) -> None:
    """Give a cloned model its own copies of the (small) tensors in node attributes."""
    for node in ir.traversal.RecursiveGraphIterator(model.graph):
        for name, attr in list(node.attributes.items()):
            if attr.type == ir.AttributeType.TENSOR:
                node.attributes[name] = ir.AttrTensor(name, _copy(attr.as_tensor()))
            elif attr.type == ir.AttributeType.TENSORS:
                node.attributes[name] = ir.AttrTensors(name, [_copy(t) for t in attr.as_tensors()])


def _copy(tensor: ir.TensorProtocol) -> ir.TensorProtocol:
    return ir.tensor(tensor.numpy().copy(), dtype=tensor.dtype, name=tensor.name)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__
