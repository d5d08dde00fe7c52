"""Executor ops that foreign exports use: Paddle's SAME convolutions, FPN/U-Net Resize, GELU's Erf."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import onnxruntime as ort
import pytest

from modelps.io import model_bytes
from tests.modelps.compress.nets import Net

torch = pytest.importorskip("torch", reason="fine-tuning needs PyTorch (pip install torch==2.13.0)")

from modelps.compress.distill import UnsupportedOp, _Executor, unsupported_ops  # noqa: E402


def _check(model: ir.Model, shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    expected = ort.InferenceSession(model_bytes(model)).run(None, {"x": x})[0]
    assert unsupported_ops(model) == []
    got = _Executor(model)({"x": torch.from_numpy(x)})["y"].detach().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("size", [15, 16])
def test_conv_and_max_pool_auto_pad_match_onnx_runtime(auto_pad: str, size: int) -> None:
    shape = (1, 3, size, size + 3)
    net = Net(shape)
    w = net.const(net.rng.standard_normal((4, 3, 3, 3)), "w")
    c = net.op("Conv", [net.x, w], 4, auto_pad=auto_pad, strides=[2, 2], kernel_shape=[3, 3])
    y = net.op("MaxPool", [c], 4, auto_pad=auto_pad, strides=[2, 2], kernel_shape=[2, 2])
    _check(net.build(y), shape)


def _resize(mode: str, coord: str, scales: list[float], sizes: list[int] | None) -> ir.Model:
    net = Net((1, 2, 5, 7))
    inputs: list[ir.Value | None] = [net.x, None, net.const(np.array(scales, np.float32), "scales")]
    if sizes is not None:
        inputs.append(net.const(np.array(sizes, np.int64), "sizes"))
    extra = {"nearest_mode": "floor"} if mode == "nearest" else {}
    return net.build(net.op("Resize", inputs, 2, mode=mode, coordinate_transformation_mode=coord, **extra))


RESIZES = [
    ("nearest", "asymmetric", [1, 1, 2, 2], None),  # Paddle's FPN and PyTorch's nn.Upsample
    ("nearest", "asymmetric", [1, 1, 1.5, 3], None),
    ("linear", "half_pixel", [1, 1, 2, 2], None),
    ("linear", "pytorch_half_pixel", [], [1, 2, 9, 12]),
    ("linear", "align_corners", [], [1, 2, 10, 13]),
]


@pytest.mark.parametrize(("mode", "coord", "scales", "sizes"), RESIZES)
def test_resize_matches_onnx_runtime(mode: str, coord: str, scales: list[float], sizes: list[int] | None) -> None:
    _check(_resize(mode, coord, scales, sizes), (1, 2, 5, 7))


def test_unsupported_resize_modes_are_named() -> None:
    model = _resize("cubic", "half_pixel", [1, 1, 2, 2], None)
    with pytest.raises(UnsupportedOp, match="mode=cubic, coordinate_transformation_mode=half_pixel"):
        _Executor(model)({"x": torch.zeros(1, 2, 5, 7)})
    model = _resize("nearest", "asymmetric", [1, 2, 2, 2], None)
    with pytest.raises(UnsupportedOp, match="resizing batch or channels"):
        _Executor(model)({"x": torch.zeros(1, 2, 5, 7)})


def test_erf_matches_onnx_runtime() -> None:
    net = Net((2, 8))
    _check(net.build(net.op("Erf", [net.x], None)), (2, 8))
