"""Indexing, comparison and normalization ops for the PyTorch executor.

What Paddle, TorchScript and dynamo exports put around their convolutions and matrix products:
``Slice`` and ``Split`` (sequence heads, attention projections), attention-mask arithmetic
(``Where``, ``Expand``, ``Range``, ``ConstantOfShape``, ``Max``/``Min``), ``LayerNormalization``
and ``Pad``. Their elementwise comparisons, logic and reductions are in ``torch_ops``' tables.
Same contract as :data:`modelps.compress.torch_ops.OPS`: each function takes the node and its
input tensors and returns the output (or a tuple); attributes it cannot honour raise
:class:`UnsupportedOp` naming the node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx_ir as ir

from modelps.compress.op_support import UnsupportedOp
from modelps.compress.op_support import attr as _attr
from modelps.compress.op_support import ints as _ints

__all__ = ["TENSOR_OPS"]


def _optional(args: list[Any], index: int) -> Any:
    return args[index] if len(args) > index and args[index] is not None else None


def _slice(node: ir.Node, args: list[Any]) -> Any:
    import torch

    x = args[0]
    if len(args) > 1:  # opset 10+: starts, ends, axes, steps as inputs
        starts, ends = _ints(args[1]), _ints(args[2])
        axes = _optional(args, 3)
        steps = _optional(args, 4)
    else:
        starts, ends, axes, steps = _attr(node, "starts"), _attr(node, "ends"), _attr(node, "axes"), None
    axes = list(range(len(starts))) if axes is None else [a % x.dim() for a in _ints(axes)]
    steps = [1] * len(starts) if steps is None else _ints(steps)
    for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
        if step == 0:
            raise UnsupportedOp(f"Slice {node.name!r}: a step of 0 is invalid")
        size = int(x.shape[axis])
        begin, stop, stride = slice(start, end, step).indices(size)  # ONNX clamps the same way
        if stride > 0:
            x = x[(slice(None),) * axis + (slice(begin, stop, stride),)]
        else:  # torch indexing has no negative steps
            x = x.index_select(axis, torch.arange(begin, stop, stride, device=x.device))
    return x


def _split(node: ir.Node, args: list[Any]) -> tuple[Any, ...]:
    x = args[0]
    axis = _attr(node, "axis", 0) % x.dim()
    sizes = _optional(args, 1)
    sizes = _ints(sizes) if sizes is not None else _attr(node, "split")
    if sizes is None:
        parts = _attr(node, "num_outputs", None) or len(node.outputs)
        chunk = -(-int(x.shape[axis]) // parts)  # the last part may be smaller (opset 18)
        sizes = [min(chunk, int(x.shape[axis]) - i * chunk) for i in range(parts)]
    return tuple(x.split(list(sizes), dim=axis))


def _expand(node: ir.Node, args: list[Any]) -> Any:
    import torch

    x, shape = args[0], _ints(args[1])
    return x.expand(torch.broadcast_shapes(tuple(x.shape), tuple(shape)))


def _where(node: ir.Node, args: list[Any]) -> Any:
    import torch

    return torch.where(args[0].bool(), args[1], args[2])


def _constant_of_shape(node: ir.Node, args: list[Any]) -> Any:
    import torch

    value = _attr(node, "value")
    fill = np.zeros(1, np.float32) if value is None else np.asarray(value.numpy()).reshape(-1)
    return torch.full(_ints(args[0]), fill[0].item(), dtype=getattr(torch, fill.dtype.name), device=args[0].device)


def _range(node: ir.Node, args: list[Any]) -> Any:
    import torch

    start, limit, delta = (a.item() for a in args)
    return torch.arange(start, limit, delta, dtype=args[0].dtype, device=args[0].device)


def _variadic(fn_name: str) -> Callable[[ir.Node, list[Any]], Any]:
    def run(node: ir.Node, args: list[Any]) -> Any:
        import torch

        out = args[0]
        for other in args[1:]:
            out = getattr(torch, fn_name)(out, other)
        return out

    return run


def _gather_nd(node: ir.Node, args: list[Any]) -> Any:
    x, idx = args
    batch = _attr(node, "batch_dims", 0)
    if batch:
        raise UnsupportedOp(f"GatherND {node.name!r}: batch_dims={batch} is not supported for fine-tuning")
    idx = idx.long()
    depth = int(idx.shape[-1])
    flat = idx.reshape(-1, depth)
    picked = x[tuple(flat[:, i] for i in range(depth))]
    return picked.reshape((*idx.shape[:-1], *x.shape[depth:]))


def _layer_norm(node: ir.Node, args: list[Any]) -> Any | tuple[Any, ...]:
    import torch.nn.functional as F

    x, scale = args[0], args[1]
    bias = _optional(args, 2)
    if len([v for v in node.outputs if v is not None and v.name]) > 1:
        raise UnsupportedOp(f"LayerNormalization {node.name!r}: mean and inverse deviation outputs are not supported")
    axis = _attr(node, "axis", -1) % x.dim()
    shape = tuple(x.shape[axis:])
    return F.layer_norm(x, shape, scale.expand(shape), None if bias is None else bias.expand(shape),
                        eps=_attr(node, "epsilon", 1e-5))  # fmt: skip


def _pad(node: ir.Node, args: list[Any]) -> Any:
    import torch.nn.functional as F

    x = args[0]
    mode = _attr(node, "mode", "constant")
    if len(args) > 1:
        pads, value, axes = _ints(args[1]), _optional(args, 2), _optional(args, 3)
    else:
        pads, value, axes = list(_attr(node, "pads")), _attr(node, "value", 0.0), None
    axes = list(range(x.dim())) if axes is None else [a % x.dim() for a in _ints(axes)]
    begin, end = dict(zip(axes, pads[: len(axes)], strict=True)), dict(zip(axes, pads[len(axes) :], strict=True))
    flat: list[int] = []
    for axis in reversed(range(x.dim())):
        flat += [begin.get(axis, 0), end.get(axis, 0)]
    while len(flat) > 2 and flat[-2:] == [0, 0]:
        flat = flat[:-2]
    torch_mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}.get(mode)
    if torch_mode is None:
        raise UnsupportedOp(f"Pad {node.name!r}: mode={mode} is not supported for fine-tuning")
    if torch_mode == "constant":
        fill = 0.0 if value is None else float(value.item() if hasattr(value, "item") else value)
        return F.pad(x, flat, value=fill)
    return F.pad(x, flat, mode=torch_mode)


def _tile(node: ir.Node, args: list[Any]) -> Any:
    return args[0].repeat(*_ints(args[1]))


TENSOR_OPS: dict[str, Callable[[ir.Node, list[Any]], Any]] = {
    "Slice": _slice,
    "Split": _split,
    "Expand": _expand,
    "Where": _where,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Max": _variadic("maximum"),
    "Min": _variadic("minimum"),
    "Sum": _variadic("add"),
    "GatherND": _gather_nd,
    "LayerNormalization": _layer_norm,
    "Pad": _pad,
    "Tile": _tile,
}
