"""Task metrics of the trained corpus models, for benchmarks that judge by more than fidelity.

``task(name)`` returns a :class:`Task`: ``labelled(n, seed)`` gives held-out inputs and their labels,
``score(outputs, labels)`` scores what a model (or a compressed variant of it) answered, where
``outputs`` holds, per input dict, the list ONNX Runtime's ``session.run(None, feed)`` returned.

Example::

    from zoo.corpus import get, tasks
    t = tasks.task("seg-shapes")
    feeds, labels = t.labelled(64)
    outputs = [session.run(None, f) for f in feeds]
    t.score(outputs, labels)          # mean IoU
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.errors import UnknownModelError

__all__ = ["TASKS", "Task", "task"]


@dataclass(frozen=True)
class Task:
    """A labelled held-out set and its metric (higher is better, in [0, 1])."""

    model: str
    metric: str
    labelled: Callable[[int, int], tuple[list[dict[str, np.ndarray]], Any]]
    score: Callable[[list[list[np.ndarray]], Any], float]


def _rec_score(outputs: list[list[np.ndarray]], texts: Any) -> float:
    from zoo.corpus import get, ppocr

    return ppocr.string_accuracy([o[0] for o in outputs], texts, ppocr.charset(get("ppocr-rec").path))


def _det_score(outputs: list[list[np.ndarray]], masks: Any) -> float:
    from zoo.corpus import ppocr

    return ppocr.text_iou([o[0] for o in outputs], masks)


def _seg_score(outputs: list[list[np.ndarray]], labels: Any) -> float:
    from zoo.corpus import segmentation

    return segmentation.mean_iou([o[0] for o in outputs], labels)


def _top1(outputs: list[list[np.ndarray]], labels: Any) -> float:
    from zoo.corpus import digits

    return digits.top1([o[-1] for o in outputs], labels)


def _labelled(module: str, func: str, **kwargs: Any) -> Callable[[int, int], tuple[list[dict[str, np.ndarray]], Any]]:
    def labelled(n: int, seed: int = 0) -> tuple[list[dict[str, np.ndarray]], Any]:
        import importlib

        return getattr(importlib.import_module(f"zoo.corpus.{module}"), func)(n, seed, **kwargs)

    return labelled


TASKS: dict[str, Task] = {
    t.model: t
    for t in (
        Task("ppocr-det", "text-iou", _labelled("ppocr", "det_labelled"), _det_score),
        Task("ppocr-rec", "ctc-string-accuracy", _labelled("ppocr", "rec_labelled"), _rec_score),
        Task("seg-shapes", "mean-iou", _labelled("segmentation", "seg_labelled"), _seg_score),
        Task("sklearn-digits", "top1", _labelled("digits", "digits_labelled", input_name="X"), _top1),
        Task("onnxscript-functions", "top1", _labelled("digits", "digits_labelled", input_name="pixels"), _top1),
    )
}


def task(name: str) -> Task:
    """The task of trained corpus model ``name``.

    Raises:
        UnknownModelError: ``name`` has no task (random-weight models have none).
    """
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownModelError(f"corpus model {name!r} has no task; models with one: {', '.join(TASKS)}") from None
