"""``QuantizeLinear`` and ``DequantizeLinear`` as fake quantization in PyTorch.

With these two ops the PyTorch executor of :mod:`modelps.compress.distill` runs a QDQ model (as
ONNX Runtime's quantizer writes it) with the rounding and clipping of INT8 inference, while
gradients pass straight through the rounding (the straight-through estimator) and stop where a
value is clipped. That is quantization-aware fine-tuning: the integer weights, trained as floats
in units of their quantization step, are rounded back when the model is exported. Scales and
zero points stay as calibrated.

A ``QuantizeLinear`` whose every consumer is a ``DequantizeLinear`` with the same 8-bit scale and
zero point (how activations are quantized) runs with the pair as one
``torch.fake_quantize_per_*_affine`` call, and those consumers pass its result through: the same
values and gradients as the two ops apart, with a fraction of the memory traffic.
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


def _pairs_with_dequantize(node: ir.Node) -> bool:
    """Whether ``node`` (a ``QuantizeLinear``) feeds only ``DequantizeLinear`` ops with its own parameters."""
    out = node.outputs[0]
    consumers = list(out.consumers())
    if not consumers or out.is_graph_output():
        return False
    params = list(node.inputs[1:3]) + [None] * (3 - len(node.inputs))
    for consumer in consumers:
        theirs = list(consumer.inputs[1:3]) + [None] * (3 - len(consumer.inputs))
        same_axis = _attr(consumer, "axis", 1) == _attr(node, "axis", 1)
        if consumer.op_type != "DequantizeLinear" or theirs[:2] != params[:2] or not same_axis:
            return False
        if consumer.inputs[0] is not out or _attr(consumer, "block_size", 0):
            return False
    return True


def _fake_quantize(x: Any, scale: Any, zero_point: Any, bounds: tuple[int, int], node: ir.Node) -> Any:
    """Quantize and dequantize ``x`` in one torch op (round half to even, clip, straight-through gradient)."""
    import torch

    zp = torch.zeros_like(scale, dtype=torch.int32) if zero_point is None else zero_point.to(torch.int32)
    if scale.numel() == 1:
        return torch.fake_quantize_per_tensor_affine(x, scale.reshape(()).float(), zp.reshape(()), *bounds)
    axis = _attr(node, "axis", 1) % x.dim()
    return torch.fake_quantize_per_channel_affine(x, scale.float(), zp, axis, *bounds)


def _fusable(node: ir.Node, x: Any, scale: Any, bounds: tuple[int, int]) -> bool:
    import torch

    eight_bit = bounds in (_RANGES["uint8"], _RANGES["int8"])
    return eight_bit and x.dtype == torch.float32 and scale.dim() <= 1 and _pairs_with_dequantize(node)


def _quantize(node: ir.Node, args: list[Any]) -> Any:
    import torch

    x, scale = args[0], args[1]
    zero_point = args[2] if len(args) > 2 else None
    if _attr(node, "output_dtype", 0) or _attr(node, "block_size", 0):
        raise _unsupported(node, "output_dtype and block_size attributes")
    bounds = _bounds(node, zero_point, None) or _RANGES["uint8"]
    if _fusable(node, x, scale, bounds):
        return _FakeQuantized(_fake_quantize(x, scale, zero_point, bounds, node))
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
    if isinstance(q, _FakeQuantized):  # quantized and dequantized by its QuantizeLinear already
        return q.value
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


class _FakeQuantized:
    """A fused ``QuantizeLinear``'s result: already dequantized, for its ``DequantizeLinear`` consumers only."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


QUANT_OPS = {"QuantizeLinear": _quantize, "DequantizeLinear": _dequantize}
