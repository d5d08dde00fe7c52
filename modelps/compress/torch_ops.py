"""ONNX operators as PyTorch functions, for running an ONNX graph in torch (:mod:`modelps.compress.distill`).

Each entry of :data:`OPS` takes the node and its input tensors (``None`` for absent optional inputs)
and returns the output tensor or a tuple of them. Attributes the implementation does not support
raise :class:`UnsupportedOp` naming the node. PyTorch is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx_ir as ir

from modelps.compress.fake_quant import QUANT_OPS
from modelps.compress.op_support import UnsupportedOp
from modelps.compress.op_support import attr as _attr
from modelps.compress.op_support import ints as _ints
from modelps.compress.tensor_ops import TENSOR_OPS

__all__ = ["OPS", "UnsupportedOp"]


def _pads(node: ir.Node, spatial: int) -> tuple[list[int], list[int]]:
    pads = list(_attr(node, "pads", [0] * (2 * spatial)))
    return pads[:spatial], pads[spatial:]


def _explicit_pad(x: Any, begin: list[int], end: list[int], value: float = 0.0) -> tuple[Any, int | list[int]]:
    """Symmetric pads go to the op; asymmetric ones are applied here first."""
    import torch.nn.functional as F

    if begin == end:
        return x, begin
    flat = []
    for b, e in zip(reversed(begin), reversed(end), strict=True):
        flat += [b, e]
    return F.pad(x, flat, value=value), 0


def _check_auto_pad(node: ir.Node) -> None:
    mode = _attr(node, "auto_pad", "NOTSET")
    if mode not in ("NOTSET", "VALID"):
        raise UnsupportedOp(f"{node.op_type} {node.name!r}: auto_pad={mode} is not supported for fine-tuning")


def _auto_pads(node: ir.Node, x: Any, kernel: list[int]) -> tuple[list[int], list[int]]:
    """Begin and end pads, ``auto_pad`` included (SAME_UPPER puts an odd pad's extra at the end)."""
    mode = _attr(node, "auto_pad", "NOTSET")
    spatial = len(kernel)
    if mode == "VALID":
        return [0] * spatial, [0] * spatial
    if mode not in ("SAME_UPPER", "SAME_LOWER"):
        return _pads(node, spatial)
    strides = _attr(node, "strides", [1] * spatial)
    dilations = _attr(node, "dilations", [1] * spatial)
    begin, end = [], []
    for size, k, stride, dilation in zip(x.shape[2:], kernel, strides, dilations, strict=True):
        out = -(-int(size) // stride)
        total = max((out - 1) * stride + (k - 1) * dilation + 1 - int(size), 0)
        begin.append(total // 2 if mode == "SAME_UPPER" else total - total // 2)
        end.append(total - begin[-1])
    return begin, end


def _conv(node: ir.Node, args: list[Any]) -> Any:
    import torch.nn.functional as F

    x, w = args[0], args[1]
    b = args[2] if len(args) > 2 else None
    spatial = w.dim() - 2
    begin, end = _auto_pads(node, x, list(w.shape[2:]))
    x, pad = _explicit_pad(x, begin, end)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[spatial]
    return conv(
        x, w, b, stride=_attr(node, "strides", [1] * spatial), padding=pad,
        dilation=_attr(node, "dilations", [1] * spatial), groups=_attr(node, "group", 1),
    )  # fmt: skip


def _conv_transpose(node: ir.Node, args: list[Any]) -> Any:
    import torch.nn.functional as F

    _check_auto_pad(node)
    if _attr(node, "output_shape") is not None:
        raise UnsupportedOp(f"ConvTranspose {node.name!r}: output_shape is not supported for fine-tuning")
    x, w = args[0], args[1]
    b = args[2] if len(args) > 2 else None
    spatial = w.dim() - 2
    begin, end = _pads(node, spatial)
    if begin != end:
        raise UnsupportedOp(f"ConvTranspose {node.name!r}: asymmetric pads are not supported for fine-tuning")
    fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[spatial]
    return fn(
        x, w, b, stride=_attr(node, "strides", [1] * spatial), padding=begin,
        output_padding=_attr(node, "output_padding", [0] * spatial), groups=_attr(node, "group", 1),
        dilation=_attr(node, "dilations", [1] * spatial),
    )  # fmt: skip


def _gemm(node: ir.Node, args: list[Any]) -> Any:
    a, b = args[0], args[1]
    if _attr(node, "transA", 0):
        a = a.t()
    if _attr(node, "transB", 0):
        b = b.t()
    y = _attr(node, "alpha", 1.0) * (a @ b)
    if len(args) > 2 and args[2] is not None:
        y = y + _attr(node, "beta", 1.0) * args[2]
    return y


def _pool(node: ir.Node, args: list[Any]) -> Any:
    import torch.nn.functional as F

    is_max = node.op_type == "MaxPool"
    if not is_max:  # zeros padded here would count in the average
        _check_auto_pad(node)
    x = args[0]
    kernel = _attr(node, "kernel_shape")
    spatial = len(kernel)
    begin, end = _auto_pads(node, x, kernel)
    x, pad = _explicit_pad(x, begin, end, value=-math.inf if is_max else 0.0)
    stride = _attr(node, "strides", [1] * spatial)
    ceil = bool(_attr(node, "ceil_mode", 0))
    if is_max:
        fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[spatial]
        return fn(x, kernel, stride, pad, dilation=_attr(node, "dilations", [1] * spatial), ceil_mode=ceil)
    fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[spatial]
    include = bool(_attr(node, "count_include_pad", 0))
    return fn(x, kernel, stride, pad, ceil_mode=ceil, count_include_pad=include)


def _batchnorm(node: ir.Node, args: list[Any]) -> Any:
    import torch.nn.functional as F

    x, scale, bias, mean, var = args[:5]
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=_attr(node, "epsilon", 1e-5))


def _prelu(node: ir.Node, args: list[Any]) -> Any:
    import torch

    x, slope = args
    return torch.where(x >= 0, x, x * slope)


def _clip(node: ir.Node, args: list[Any]) -> Any:
    import torch

    low = args[1] if len(args) > 1 and args[1] is not None else _attr(node, "min")
    high = args[2] if len(args) > 2 and args[2] is not None else _attr(node, "max")
    return torch.clamp(args[0], None if low is None else float(low), None if high is None else float(high))


def _axes(node: ir.Node, args: list[Any], rank: int) -> list[int] | None:
    axes = args[1] if len(args) > 1 and args[1] is not None else _attr(node, "axes")
    if axes is None:
        return None
    return [a % rank for a in _ints(axes)]


def _reduce(fn_name: str) -> Callable[[ir.Node, list[Any]], Any]:
    def run(node: ir.Node, args: list[Any]) -> Any:
        import torch

        x = args[0]
        axes = _axes(node, args, x.dim()) or list(range(x.dim()))
        keep = bool(_attr(node, "keepdims", 1))
        if fn_name == "l2":
            return torch.sqrt(torch.sum(x * x, dim=axes, keepdim=keep))
        return getattr(torch, fn_name)(x, dim=axes, keepdim=keep)

    return run


def _flatten(node: ir.Node, args: list[Any]) -> Any:
    x = args[0]
    axis = _attr(node, "axis", 1)
    axis = axis + x.dim() if axis < 0 else axis  # 0..rank: axis == rank gives (all, 1)
    lead = int(np.prod(x.shape[:axis])) if axis else 1
    return x.reshape(lead, int(np.prod(x.shape[axis:])))


def _reshape(node: ir.Node, args: list[Any]) -> Any:
    x, shape = args[0], _ints(args[1])
    if not _attr(node, "allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _squeeze(node: ir.Node, args: list[Any]) -> Any:
    x = args[0]
    axes = _axes(node, args, x.dim())
    if axes is None:
        return x.squeeze()
    for a in sorted(axes, reverse=True):
        x = x.squeeze(a)
    return x


def _unsqueeze(node: ir.Node, args: list[Any]) -> Any:
    x = args[0]
    axes = _ints(args[1] if len(args) > 1 and args[1] is not None else _attr(node, "axes"))
    rank = x.dim() + len(axes)
    for a in sorted(a % rank for a in axes):
        x = x.unsqueeze(a)
    return x


def _concat(node: ir.Node, args: list[Any]) -> Any:
    import torch

    return torch.cat([a for a in args if a is not None], dim=_attr(node, "axis"))


def _transpose(node: ir.Node, args: list[Any]) -> Any:
    perm = _attr(node, "perm")
    return args[0].permute(*perm) if perm is not None else args[0].permute(*reversed(range(args[0].dim())))


def _softmax(node: ir.Node, args: list[Any]) -> Any:
    import torch

    return torch.softmax(args[0], dim=_attr(node, "axis", -1))


def _global_pool(kind: str) -> Callable[[ir.Node, list[Any]], Any]:
    def run(node: ir.Node, args: list[Any]) -> Any:
        x = args[0]
        dims = list(range(2, x.dim()))
        return x.mean(dim=dims, keepdim=True) if kind == "avg" else x.amax(dim=dims, keepdim=True)

    return run


def _binary(fn: Callable[[Any, Any], Any]) -> Callable[[ir.Node, list[Any]], Any]:
    return lambda node, args: fn(args[0], args[1])


def _unary(name: str) -> Callable[[ir.Node, list[Any]], Any]:
    def run(node: ir.Node, args: list[Any]) -> Any:
        import torch
        import torch.nn.functional as F

        x = args[0]
        if name == "leaky":
            return F.leaky_relu(x, _attr(node, "alpha", 0.01))
        if name == "hardsigmoid":
            return torch.clamp(_attr(node, "alpha", 0.2) * x + _attr(node, "beta", 0.5), 0, 1)
        if name == "hardswish":
            return F.hardswish(x)
        return getattr(torch, name)(x)

    return run


def _resize(node: ir.Node, args: list[Any]) -> Any:
    """``Resize`` (opset 11+): nearest (asymmetric, floor) or linear (half-pixel or align-corners).

    These are the modes ``torch.nn.functional.interpolate`` computes exactly; Paddle and PyTorch
    exports use them for FPN and U-Net up-sampling. Other modes raise :class:`UnsupportedOp`.
    """
    import torch.nn.functional as F

    if len(args) < 3:
        raise UnsupportedOp(f"Resize {node.name!r}: the opset 10 form is not supported for fine-tuning")
    x, scales = args[0], args[2]
    sizes = args[3] if len(args) > 3 else None
    mode = _attr(node, "mode", "nearest")
    coord = _attr(node, "coordinate_transformation_mode", "half_pixel")
    nearest = _attr(node, "nearest_mode", "round_prefer_floor")
    if mode == "nearest" and coord == "asymmetric" and nearest == "floor":
        kwargs: dict[str, Any] = {"mode": "nearest"}
    elif mode == "linear" and coord in ("half_pixel", "pytorch_half_pixel", "align_corners") and x.dim() in (3, 4, 5):
        kwargs = {"mode": ("linear", "bilinear", "trilinear")[x.dim() - 3], "align_corners": coord == "align_corners"}
    else:
        raise UnsupportedOp(
            f"Resize {node.name!r}: mode={mode}, coordinate_transformation_mode={coord}, nearest_mode={nearest} "
            "is not supported for fine-tuning"
        )
    if sizes is not None and sizes.numel():
        size = _ints(sizes)
        kept, kwargs["size"] = size[:2] == list(x.shape[:2]), size[2:]
    else:
        factors = [float(v) for v in scales.tolist()]
        kept, kwargs["scale_factor"] = factors[:2] == [1.0, 1.0], factors[2:]
    if not kept:
        raise UnsupportedOp(f"Resize {node.name!r}: resizing batch or channels is not supported for fine-tuning")
    return F.interpolate(x, **kwargs)


def _identity(node: ir.Node, args: list[Any]) -> Any:
    return args[0]


def _shape(node: ir.Node, args: list[Any]) -> Any:
    import torch

    dims = list(args[0].shape)[_attr(node, "start", 0) : _attr(node, "end", None)]  # opset 15 start/end
    return torch.tensor(dims, dtype=torch.int64, device=args[0].device)


def _gather(node: ir.Node, args: list[Any]) -> Any:
    import torch

    x, idx = args
    axis = _attr(node, "axis", 0) % x.dim()
    idx = idx.long()
    out = torch.index_select(x, axis, idx.reshape(-1) % x.shape[axis])
    return out.reshape((*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :]))


def _cast(node: ir.Node, args: list[Any]) -> Any:
    import torch

    dtype = ir.DataType(_attr(node, "to")).numpy()
    return args[0].to(getattr(torch, np.dtype(dtype).name))


OPS: dict[str, Callable[[ir.Node, list[Any]], Any]] = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "Gemm": _gemm,
    "MatMul": _binary(lambda a, b: a @ b),
    "Add": _binary(lambda a, b: a + b),
    "Sub": _binary(lambda a, b: a - b),
    "Mul": _binary(lambda a, b: a * b),
    "Div": _binary(lambda a, b: a / b),
    "Pow": _binary(lambda a, b: a**b),
    "Relu": _unary("relu"),
    "Sigmoid": _unary("sigmoid"),
    "Tanh": _unary("tanh"),
    "Sqrt": _unary("sqrt"),
    "Exp": _unary("exp"),
    "Neg": _unary("neg"),
    "Abs": _unary("abs"),
    "Erf": _unary("erf"),
    "Log": _unary("log"),
    "Reciprocal": _unary("reciprocal"),
    "Floor": _unary("floor"),
    "Ceil": _unary("ceil"),
    "IsNaN": _unary("isnan"),
    "Not": _unary("logical_not"),
    "Equal": _binary(lambda a, b: a == b),
    "Less": _binary(lambda a, b: a < b),
    "Greater": _binary(lambda a, b: a > b),
    "LessOrEqual": _binary(lambda a, b: a <= b),
    "GreaterOrEqual": _binary(lambda a, b: a >= b),
    "And": _binary(lambda a, b: a.logical_and(b)),
    "Or": _binary(lambda a, b: a.logical_or(b)),
    "LeakyRelu": _unary("leaky"),
    "HardSigmoid": _unary("hardsigmoid"),
    "HardSwish": _unary("hardswish"),
    "PRelu": _prelu,
    "Clip": _clip,
    "BatchNormalization": _batchnorm,
    "MaxPool": _pool,
    "AveragePool": _pool,
    "GlobalAveragePool": _global_pool("avg"),
    "GlobalMaxPool": _global_pool("max"),
    "ReduceMean": _reduce("mean"),
    "ReduceSum": _reduce("sum"),
    "ReduceL2": _reduce("l2"),
    "ReduceMax": _reduce("amax"),
    "ReduceMin": _reduce("amin"),
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Concat": _concat,
    "Transpose": _transpose,
    "Softmax": _softmax,
    "Identity": _identity,
    "Dropout": _identity,
    "Constant": _identity,  # never called: the executor evaluates constants when it loads the graph
    "Shape": _shape,
    "Gather": _gather,
    "Cast": _cast,
    "Resize": _resize,
    **QUANT_OPS,
    **TENSOR_OPS,
}
