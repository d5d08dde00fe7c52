"""``QuantizeLinear`` and ``DequantizeLinear`` as fake quantization in PyTorch.

With these two ops the PyTorch executor of :mod:`modelps.compress.distill` runs a QDQ model (as
ONNX Runtime's quantizer writes it) with the rounding and clipping of INT8 inference, while
gradients pass straight through the rounding (the straight-through estimator) and stop where a
value is clipped. That is quantization-aware fine-tuning: the integer weights, trained as floats
in units of their quantization step, are rounded back when the model is exported. Scales and
zero points stay as calibrated.
"""

from __future__ import annotations

from typing import Any

import onnx_ir as ir

from modelps.compress.op_support import UnsupportedOp
from modelps.compress.op_support import attr as _attr

__all__ = ["QUANT_OPS"]

_RANGES = {
    "uint8": (0, 255),
    "int8": (-128, 127),
    "uint16": (0, 65535),
    "int16": (-32768, 32767),
    "int32": (-(2**31), 2**31 - 1),
}


def _along(param: Any, x: Any, node: ir.Node) -> Any:
    """``param`` (a scalar, or 1-D along the node's ``axis``) shaped to broadcast against ``x``."""
    if param.dim() == 0 or param.numel() == 1:
        return param.reshape(())
    if param.dim() != 1:
        raise _unsupported(node, "blocked (2-D) scales")
    axis = _attr(node, "axis", 1) % x.dim()
    shape = [1] * x.dim()
    shape[axis] = -1
    return param.reshape(shape)


def _unsupported(node: ir.Node, what: str) -> ValueError:
    return UnsupportedOp(f"{node.op_type} {node.name!r}: {what} are not supported for fine-tuning")


def _round_ste(x: Any) -> Any:
    """Round half to even (as ONNX does) in the forward pass; the identity in the backward pass."""
    import torch

    return x + (torch.round(x) - x).detach()


def _bounds(node: ir.Node, zero_point: Any, fallback: Any) -> tuple[int, int] | None:
    for tensor in (zero_point, fallback):
        if tensor is not None and not tensor.is_floating_point():
            found = _RANGES.get(str(tensor.dtype).removeprefix("torch."))
            if found is None:
                raise _unsupported(node, f"{tensor.dtype} values")
            return found
    return None


def _quantize(node: ir.Node, args: list[Any]) -> Any:
    import torch

    x, scale = args[0], args[1]
    zero_point = args[2] if len(args) > 2 else None
    if _attr(node, "output_dtype", 0) or _attr(node, "block_size", 0):
        raise _unsupported(node, "output_dtype and block_size attributes")
    bounds = _bounds(node, zero_point, None) or _RANGES["uint8"]
    q = _round_ste(x / _along(scale, x, node))
    if zero_point is not None:
        q = q + _along(zero_point.float(), x, node)
    return torch.clamp(q, *bounds)


def _dequantize(node: ir.Node, args: list[Any]) -> Any:
    import torch

    q, scale = args[0], args[1]
    zero_point = args[2] if len(args) > 2 else None
    if _attr(node, "block_size", 0):
        raise _unsupported(node, "block_size attributes")
    bounds = _bounds(node, zero_point, q)
    if q.is_floating_point():  # a trained integer tensor, or the output of a fake QuantizeLinear
        q = _round_ste(q)
        if bounds is not None:
            q = torch.clamp(q, *bounds)
    else:
        q = q.float()
    if zero_point is not None:
        q = q - _along(zero_point.float(), q, node)
    return q * _along(scale, q, node)


QUANT_OPS = {"QuantizeLinear": _quantize, "DequantizeLinear": _dequantize}
