"""Small test models written as ONNX text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx_ir as ir

from modelps.io import save

_HEADER = '<ir_version: 8, opset_import: ["" : 17]>\n'


def write_model(path: Path, text: str, weights: dict[str, np.ndarray] | None = None) -> Path:
    tensors = [ir.tensor(np.asarray(v), name=k) for k, v in (weights or {}).items()]
    model = ir.from_onnx_text(_HEADER + text, initializers=tensors)
    save(model, path)
    return path


def mlp(path: Path) -> Path:
    """x float[N,4] -> y float[N,3] = relu(x W + b), z float[N,4] = x * 2."""
    rng = np.random.default_rng(0)
    return write_model(
        path,
        "mlp (float[N,4] x) => (float[N,3] y, float[N,4] z) {"
        " h = MatMul(x, W)  a = Add(h, b)  y = Relu(a)  z = Add(x, x) }",
        {"W": rng.standard_normal((4, 3)).astype(np.float32), "b": rng.standard_normal(3).astype(np.float32)},
    )


def convnet(path: Path) -> Path:
    """x float[N,3,H,W] -> feat float[N,8,H,W], pooled float[N,8] (dynamic height and width)."""
    rng = np.random.default_rng(1)
    return write_model(
        path,
        "convnet (float[N,3,H,W] x) => (float[N,8,H,W] feat, float[N,8] pooled) {"
        " c = Conv <pads = [1, 1, 1, 1]> (x, K, B)  feat = Relu(c)"
        " g = GlobalAveragePool(feat)  pooled = Flatten <axis = 1> (g) }",
        {"K": rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "B": rng.standard_normal(8).astype(np.float32)},
    )


def fixed(path: Path) -> Path:
    """x int32[3] -> y int32[3] = x * 3 (no batch dimension)."""
    return write_model(path, "fixed (int32[3] x) => (int32[3] y) { y = Mul(x, k) }", {"k": np.array(3, np.int32)})


def slow(path: Path, steps: int = 12, size: int = 384) -> Path:
    """x float[N,4] -> y float[N,4]: per-sample chain of size x size matmuls (tens of ms a sample)."""
    chain = []
    prev = "a0"
    for i in range(steps):
        chain.append(f"m{i} = MatMul({prev}, {prev})  a{i + 1} = Tanh(m{i})")
        prev = f"a{i + 1}"
    return write_model(
        path,
        f"slow (float[N,4] x) => (float[N,4] y) {{"
        f" s = ReduceMean <axes = [1], keepdims = 1> (x)  s3 = Unsqueeze(s, ax2)  a0 = Expand(s3, shp)"
        f" {' '.join(chain)}  r = ReduceMean <axes = [1, 2], keepdims = 0> ({prev})"
        "  r2 = Unsqueeze(r, ax1)  y = Add(x, r2) }",
        {
            "ax1": np.array([1], np.int64),
            "ax2": np.array([2], np.int64),
            "shp": np.array([1, size, size], np.int64),
        },
    )
