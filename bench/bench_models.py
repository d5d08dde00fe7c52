"""Trained models for the benchmarks, with calibration inputs, held-out inputs and a task metric.

Corpus models (``zoo.corpus``: PP-OCR detection and recognition, the shapes segmenter) are judged
by their corpus task; zoo models (``fedreid-resnet50``, ``face-mobilefacenet`` with demo weights)
by their demo task on all of its images. Calibration and held-out inputs never overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ZOO_TASKS", "Setup", "load_setup", "run_outputs"]

ZOO_TASKS = {"fedreid-resnet50": ("reid", "mAP"), "face-mobilefacenet": ("face", "accuracy")}
Feeds = list[dict[str, np.ndarray]]
_CALIB_SEED = 101


def run_outputs(path: Path, feeds: Sequence[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """Every output of ``path`` on ``feeds``, one array per output stacked over the feeds."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    runs = [session.run(None, feed) for feed in feeds]
    return [np.concatenate([run[i] for run in runs]) for i in range(len(runs[0]))]


@dataclass
class Setup:
    """One model ready to benchmark."""

    name: str
    origin: str
    original: Path
    calib: Path
    calib_feeds: Feeds
    eval_feeds: Feeds
    metric: str
    score_fn: Callable[[Path, list[np.ndarray]], float]
    more_calib: Callable[[int], Feeds]

    def task_score(self, path: Path, outputs: list[np.ndarray]) -> float:
        """The task metric of the model at ``path`` (``outputs``: its outputs on :attr:`eval_feeds`)."""
        return round(float(self.score_fn(path, outputs)), 4)

    def npz(self, path: Path, count: int) -> Path:
        """``count`` calibration inputs (the first of :attr:`calib_feeds`, more drawn when needed) as NPZ."""
        feeds = self.calib_feeds[:count] if count <= len(self.calib_feeds) else self.more_calib(count)
        np.savez(path, **{k: np.concatenate([f[k] for f in feeds]) for k in feeds[0]})
        return path


def _corpus(name: str, folder: Path, calib_n: int, eval_n: int) -> Setup:
    from zoo.corpus import get, tasks

    model = get(name)
    task = tasks.task(name)
    eval_feeds, labels = task.labelled(eval_n, 0)

    def score_fn(path: Path, outputs: list[np.ndarray]) -> float:
        per_feed = [[o[i : i + 1] for o in outputs] for i in range(len(eval_feeds))]
        return task.score(per_feed, labels)

    def more(count: int) -> Feeds:
        return model.inputs(count, _CALIB_SEED)

    return _finish(name, model.origin, model.path, folder, more(calib_n), eval_feeds, task.metric, score_fn, more)


def _zoo(name: str, folder: Path, calib_n: int, eval_n: int) -> Setup:
    import onnx

    import zoo

    task, metric = ZOO_TASKS[name]
    original = Path(zoo.export(name, folder / f"{name}.onnx", weights="demo"))
    input_name = onnx.load(str(original), load_external_data=False).graph.input[0].name

    def images(seed: int) -> np.ndarray:
        data = zoo.demo_task_data(task, seed)
        return np.concatenate([data[k] for k in ("query", "gallery", "images") if k in data]).astype(np.float32)

    def more(count: int) -> Feeds:
        pool = images(_CALIB_SEED)
        pick = np.random.default_rng(0).choice(len(pool), size=min(count, len(pool)), replace=False)
        return [{input_name: pool[i : i + 1]} for i in pick]

    held = images(0)
    eval_feeds = [{input_name: held[i : i + 1]} for i in range(min(eval_n, len(held)))]
    cache: dict[str, float] = {}

    def score_fn(path: Path, outputs: list[np.ndarray]) -> float:
        if str(path) not in cache:
            report = zoo.task_metrics(task, zoo.task_embeddings(str(path), task))
            cache[str(path)] = float(next(v for k, v in report.items() if k.lower().endswith(metric.lower())))
        return cache[str(path)]

    origin = f"zoo {name}, demo weights (trained here on the {task} demo task)"
    return _finish(name, origin, original, folder, more(calib_n), eval_feeds, f"{task} {metric}", score_fn, more)


def _finish(name: str, origin: str, original: Path, folder: Path, calib_feeds: Feeds, eval_feeds: Feeds,
            metric: str, score_fn: Callable[[Path, list[np.ndarray]], float],
            more: Callable[[int], Feeds]) -> Setup:  # fmt: skip
    setup = Setup(name, origin, original, folder / "calib.npz", calib_feeds, eval_feeds, metric, score_fn, more)
    setup.npz(setup.calib, len(calib_feeds))
    return setup


def load_setup(name: str, folder: Path, calib_n: int, eval_n: int) -> Setup:
    """``name`` from the zoo (demo weights) or the corpus, with its inputs and metric."""
    maker: Callable[..., Setup] = _zoo if name in ZOO_TASKS else _corpus
    return maker(name, folder, calib_n, eval_n)
