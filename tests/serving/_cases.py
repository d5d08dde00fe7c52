"""What the HTTP and gRPC tests share: the requests every front must refuse the same way, and the reference run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort


def reference(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs of the model file run in process (what every served answer is compared with)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


# (model, [(input, array, datatype)], HTTP status, message)
BAD_REQUESTS = [
    ("nope", [("x", np.ones((1, 4), np.float32), "FP32")], 404, "unknown model 'nope'"),
    ("mlp", [("q", np.ones((1, 4), np.float32), "FP32")], 400, "unknown input 'q' for model 'mlp'; inputs are ['x']"),
    ("mlp", [("x", np.ones((1, 5), np.float32), "FP32")], 400,
     "input 'x': shape [1, 5] does not match the model's [-1, 4]"),
    ("mlp", [("x", np.ones((1, 2, 4), np.float32), "FP32")], 400, "input 'x': shape [1, 2, 4] does not match"),
    ("mlp", [("x", np.ones((1, 4), np.float64), "FP64")], 400,
     "input 'x': datatype 'FP64' does not match the model's 'FP32'"),
    ("mlp", [("x", np.ones((9, 4), np.float32), "FP32")], 400, "batch size 9 is outside 1..8 (max_batch_size)"),
    ("fixed", [("x", np.ones(3, np.float32), "FP32")], 400,
     "input 'x': datatype 'FP32' does not match the model's 'INT32'"),
]  # fmt: skip
