"""A fully convolutional net with dynamic batch and spatial dims and outputs of rank 4 and 3."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from tests.modelps.compress.nets import Net


def segmenter(seed: int = 0, *, outlier: float = 1.0) -> ir.Model:
    """``x[N, 3, H, W]`` -> ``y0[N, 2, H/2, W/2]`` (a map) and ``y1[N, 16, W/2]`` (a sequence).

    ``outlier`` scales one channel of the first block's output and scales it back after (an
    activation outlier that per-tensor INT8 ranges handle badly: the other channels lose their
    resolution, while the float model computes the same function).
    """
    net = Net(("N", 3, "H", "W"), seed=seed)
    x = net.cbr(net.x, 16)
    if outlier != 1.0:
        scale = np.ones((1, 16, 1, 1), np.float32)
        scale[0, 0] = outlier
        x = net.mul(x, net.const(scale, "outlier"))
        x = net.mul(x, net.const(1.0 / scale, "outlier_back"))
    x = net.cbr(x, 16, stride=2)
    x = net.cbr(x, 24)
    x = net.cbr(x, 16)
    y0 = net.conv(x, 2, k=1)
    y1 = net.op("ReduceMean", [x], 16, axes=[2], keepdims=0)
    model = net.build(y0, y1)
    for out in model.graph.outputs:
        out.shape = None  # as exporters often leave them: inferred at run time
    return model


def calib_arrays(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth image-like inputs (N, 3, H, W), normalised like ImageNet inputs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    out = []
    for _ in range(count):
        a, b, c = rng.uniform(-3, 3, 3)
        base = np.sin(a * xx + b * yy + c)
        out.append(np.stack([base * rng.uniform(0.5, 1.5) + rng.normal(0, 0.1, base.shape) for _ in range(3)]))
    return np.asarray(out, np.float32)
