"""Evaluate an ONNX embedding model on a demo task in ONNX Runtime (numpy + onnxruntime, no torch).

Example::

    import zoo
    zoo.evaluate("edited.onnx", "reid", reference="original.onnx")
    # {"task": "reid", "rank1": ..., "mAP": ..., "fidelity": {"centered_cosine": ..., ...}}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from zoo import metrics
from zoo.data import TASK_SHAPES, TASKS, demo_task_data
from zoo.errors import ZooError

__all__ = ["embed", "evaluate", "task_embeddings", "task_metrics"]


def _session(model: str | os.PathLike[str] | Any) -> Any:
    if not isinstance(model, (str, os.PathLike)):
        return model  # an onnxruntime.InferenceSession
    import onnxruntime as ort

    path = Path(model)
    if not path.is_file():
        raise ZooError(f"{path}: no such model file")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for bad files
        raise ZooError(f"{path}: ONNX Runtime cannot load the model: {exc}") from exc


def embed(model: str | os.PathLike[str] | Any, images: np.ndarray, batch: int = 32) -> np.ndarray:
    """Run ``model`` (a path or an ORT session) on NCHW ``images``; returns N x D float32 embeddings.

    A model with a fixed batch size is run that many images at a time.

    Raises:
        ZooError: The model does not take images of this size or does not give one vector per image.
    """
    session = _session(model)
    inp = session.get_inputs()[0]
    shape = list(inp.shape)
    if len(shape) != 4 or any(isinstance(d, int) and d != s for d, s in zip(shape[1:], images.shape[1:], strict=True)):
        raise ZooError(f"model input {inp.name!r} has shape {shape}; the task feeds images of shape {list(images.shape[1:])}")
    step = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else batch
    out = []
    for s in range(0, len(images), step):
        chunk = images[s : s + step]
        pad = step - len(chunk) if isinstance(shape[0], int) else 0
        if pad:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, 0)])
        (y,) = session.run([session.get_outputs()[0].name], {inp.name: np.ascontiguousarray(chunk, np.float32)})
        out.append(np.asarray(y, np.float32).reshape(len(chunk), -1)[: len(chunk) - pad])
    return np.concatenate(out)


def task_embeddings(model: str | os.PathLike[str] | Any, task: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Embeddings of every image set of demo task ``task`` (``query``/``gallery``, ``images``, ``train``/``test``)."""
    if task not in TASKS:
        raise ZooError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    session = _session(model)
    data = demo_task_data(task, seed)
    keys = {"reid": ("query", "gallery"), "face": ("images",), "ssl": ("train", "test")}[task]
    return {k: embed(session, data[k]) for k in keys}


def task_metrics(task: str, emb: dict[str, np.ndarray], seed: int = 0) -> dict[str, float]:
    """The task metrics of embeddings from :func:`task_embeddings`."""
    d = demo_task_data(task, seed)
    if task == "reid":
        return metrics.reid_metrics(
            emb["query"], d["query_ids"], emb["gallery"], d["gallery_ids"], d["query_cams"], d["gallery_cams"]
        )
    if task == "face":
        return metrics.face_verification(emb["images"], d["pairs"], d["same"])
    return {"knn_accuracy": metrics.knn_accuracy(emb["train"], d["train_labels"], emb["test"], d["test_labels"])}


def evaluate(
    model: str | os.PathLike[str] | Any, task: str, *, reference: str | os.PathLike[str] | Any = None, seed: int = 0
) -> dict[str, Any]:
    """Task metrics of ``model`` on demo task ``task``; with ``reference`` also its fidelity to that model.

    Fidelity compares the two models' embeddings of all the task's images (see :func:`zoo.metrics.fidelity`).

    Raises:
        ZooError: Unknown task, unreadable model, or a model that does not fit the task's input.
    """
    emb = task_embeddings(model, task, seed)
    report: dict[str, Any] = {"task": task, "input_shape": list(TASK_SHAPES[task])}
    report.update(task_metrics(task, emb, seed))
    if reference is not None:
        ref = task_embeddings(reference, task, seed)
        a = np.concatenate([ref[k] for k in ref])
        b = np.concatenate([emb[k] for k in ref])
        if a.shape != b.shape:
            raise ZooError(f"model gives {b.shape[1]}-d embeddings but the reference gives {a.shape[1]}-d")
        report["fidelity"] = metrics.fidelity(a, b)
    return report
