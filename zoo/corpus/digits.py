"""Two trained classifiers of scikit-learn's 8x8 digits, one classical and one with local functions.

``sklearn-digits`` is a scikit-learn pipeline converted with skl2onnx; ``onnxscript-functions`` is
an MLP trained by scikit-learn and authored with onnxscript local functions.

Both train in about a second. The first 1,200 digits train, the remaining 597 are held out and
feed :func:`digits_inputs` and :func:`digits_labelled`; :func:`top1` scores either model.
"""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from zoo.corpus.store import MODEL_FILE

__all__ = ["build_functions", "build_sklearn", "digits_inputs", "digits_labelled", "top1"]

logger = logging.getLogger(__name__)

_TRAIN = 1200


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return x.astype(np.float32), y.astype(np.int64)


def digits_labelled(n: int, seed: int = 0, *, input_name: str = "X") -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """``n`` held-out digits as 1x64 float rows (pixel values 0-16) and their labels."""
    x, y = _digits()
    idx = np.random.default_rng(seed).choice(np.arange(_TRAIN, len(x)), size=n, replace=n > len(x) - _TRAIN)
    return [{input_name: x[i : i + 1]} for i in idx], y[idx]


def digits_inputs(path: Path, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` held-out digits rows for the model at ``path`` (input ``X`` or ``pixels``)."""
    import onnx

    name = onnx.load(str(path), load_external_data=False).graph.input[0].name
    return digits_labelled(n, seed, input_name=name)[0]


def top1(outputs: list[np.ndarray], labels: np.ndarray) -> float:
    """Share of samples whose highest-scoring class (last axis) is the label."""
    pred = np.concatenate([np.asarray(o).reshape(-1, np.asarray(o).shape[-1]) for o in outputs]).argmax(axis=1)
    return float(np.mean(pred == np.asarray(labels)))


def build_sklearn(folder: Path) -> dict[str, Any]:
    """StandardScaler + LogisticRegression, converted by skl2onnx (``ai.onnx.ml`` Scaler, LinearClassifier).

    ``param_count`` is scikit-learn's own count: scaler mean and scale, coefficients and intercepts.
    """
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and converter chatter
        pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x[:_TRAIN], y[:_TRAIN])
        proto = to_onnx(pipe, x[:1], options={"zipmap": False}, target_opset={"": 18, "ai.onnx.ml": 3})
    (folder / MODEL_FILE).write_bytes(proto.SerializeToString())
    scaler, clf = pipe[0], pipe[-1]
    count = scaler.mean_.size + scaler.scale_.size + clf.coef_.size + clf.intercept_.size
    accuracy = float(pipe.score(x[_TRAIN:], y[_TRAIN:]))
    logger.info("sklearn digits pipeline: held-out accuracy %.3f", accuracy)
    return {"param_count": int(count), "accuracy": accuracy}


def build_functions(folder: Path) -> dict[str, Any]:
    """A 64-64-32-10 MLP trained by scikit-learn, written as ONNX local functions (see :mod:`.fnmodel`)."""
    from sklearn.neural_network import MLPClassifier

    from zoo.corpus.fnmodel import mlp_proto

    x, y = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier((64, 32), max_iter=300, random_state=0).fit(x[:_TRAIN] / 16.0, y[:_TRAIN])
    weights = {f"w{i + 1}": w.astype(np.float32) for i, w in enumerate(mlp.coefs_)}
    weights.update({f"b{i + 1}": b.astype(np.float32) for i, b in enumerate(mlp.intercepts_)})
    weights["w1"] = weights["w1"] / np.float32(16.0)  # the model takes raw pixel values 0-16
    (folder / MODEL_FILE).write_bytes(mlp_proto(weights).SerializeToString())
    accuracy = float(mlp.score(x[_TRAIN:] / 16.0, y[_TRAIN:]))
    logger.info("onnxscript digits MLP: held-out accuracy %.3f", accuracy)
    return {"param_count": int(sum(w.size for w in weights.values())), "accuracy": accuracy}
