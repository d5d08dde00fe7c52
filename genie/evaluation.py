"""The user's own task metric: judge candidates by it instead of (or besides) output fidelity.

An :data:`Evaluator` takes the path of an ONNX model and returns a number, higher is better
(accuracy, mAP, ...). Give one as ``module:function`` (a module on ``sys.path`` or a ``.py`` file)
with :func:`load_evaluator`, or as labelled data with a named metric (:func:`labelled_evaluator`):
an ``.npz`` holding the model's inputs by name (first axis: samples) and ``labels``.

Named metrics: ``top1`` (arg-max of the first output against integer labels), ``ctc_accuracy``
(greedy CTC decoding of a ``(N, T, classes)`` output, blank 0, against label sequences padded with
-1; exact string match) and ``miou`` (arg-max over channels of an ``(N, C, H, W)`` output against
``(N, H, W)`` labels, mean intersection over union of the classes present).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from modelps.errors import ModelPSError

__all__ = ["METRICS", "Evaluator", "ctc_greedy", "labelled_evaluator", "load_evaluator"]

Evaluator = Callable[[str], float]


def load_evaluator(spec: str) -> Evaluator:
    """Import ``module:function`` (or ``path/to/file.py:function``).

    Raises:
        ModelPSError: The module or function cannot be found, or is not callable.
    """
    module_name, sep, function = spec.rpartition(":")
    if not sep or not module_name or not function:
        raise ModelPSError(f"--eval {spec!r} must look like module:function or file.py:function")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ModelPSError(f"--eval: no such file {module_name!r}")
            loaded = importlib.util.spec_from_file_location(path.stem, path)
            assert loaded is not None and loaded.loader is not None
            module = importlib.util.module_from_spec(loaded)
            loaded.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ModelPSError:
        raise
    except Exception as exc:  # any import-time failure of the user's code
        raise ModelPSError(f"--eval: cannot import {module_name!r} ({type(exc).__name__}: {exc})") from exc
    found = getattr(module, function, None)
    if not callable(found):
        raise ModelPSError(f"--eval: {module_name!r} has no function {function!r}")
    return found


def ctc_greedy(logits: np.ndarray, blank: int = 0) -> list[list[int]]:
    """Greedy CTC decoding of ``(N, T, classes)`` scores: arg-max, merge repeats, drop blanks.

    Example::

        >>> scores = np.eye(4)[[[1, 1, 0, 2, 2, 0, 2]]]
        >>> ctc_greedy(scores)
        [[1, 2, 2]]
    """
    best = np.asarray(logits).argmax(-1)
    out = []
    for row in best:
        seq, previous = [], None
        for token in row.tolist():
            if token != previous and token != blank:
                seq.append(int(token))
            previous = token
        out.append(seq)
    return out


def _top1(outputs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(outputs.reshape(len(outputs), -1).argmax(1) == labels.reshape(-1)))


def _ctc(outputs: np.ndarray, labels: np.ndarray) -> float:
    decoded = ctc_greedy(outputs)
    truth = [[int(t) for t in row if t >= 0] for row in labels.reshape(len(labels), -1)]
    return float(np.mean([a == b for a, b in zip(decoded, truth, strict=True)]))


def _miou(outputs: np.ndarray, labels: np.ndarray) -> float:
    predicted = outputs.argmax(1)
    ious = []
    for cls in np.unique(labels):
        inter = np.logical_and(predicted == cls, labels == cls).sum()
        union = np.logical_or(predicted == cls, labels == cls).sum()
        ious.append(inter / union if union else 1.0)
    return float(np.mean(ious))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {"top1": _top1, "ctc_accuracy": _ctc, "miou": _miou}


def labelled_evaluator(data: str | os.PathLike[str], metric: str) -> Evaluator:
    """An evaluator running a model on labelled inputs from an ``.npz`` and scoring ``metric``.

    Raises:
        ModelPSError: Unknown metric, or an unreadable file without ``labels``.
    """
    if metric not in METRICS:
        raise ModelPSError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    try:
        with np.load(data, allow_pickle=False) as loaded:
            arrays = {key: loaded[key] for key in loaded.files}
    except (OSError, ValueError) as exc:
        raise ModelPSError(f"{data}: cannot read labelled data ({exc})") from exc
    if "labels" not in arrays:
        raise ModelPSError(f"{data}: labelled data needs a 'labels' array besides the inputs")
    labels = arrays.pop("labels")
    score = METRICS[metric]

    def evaluate(model_path: str) -> float:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        missing = [n for n in names if n not in arrays]
        if missing:
            raise ModelPSError(f"{data}: labelled data lacks input(s) {missing}")
        outputs = [session.run(None, {n: arrays[n][i : i + 1] for n in names})[0] for i in range(len(labels))]
        return score(np.concatenate(outputs), labels)

    return evaluate
