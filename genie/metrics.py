"""Fidelity of a compressed model's outputs against the original's (numpy only).

The same measures as the zoo's ``zoo.metrics`` (used instead when it is importable): centered
cosine (both sets centred on the reference mean), top-k neighbour agreement and relative L2;
plus, for classifier logits, top-1 class agreement.

Example::

    >>> import numpy as np
    >>> ref = np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0], [0.0, 1.0, 5.0]])
    >>> round(centered_cosine(ref, ref + 1e-9), 6), topk_agreement(ref, ref, k=1), relative_l2(ref, ref)
    (1.0, 1.0, 0.0)
    >>> class_agreement(ref, ref[:, ::-1])
    0.0
"""

from __future__ import annotations

import numpy as np

__all__ = ["centered_cosine", "class_agreement", "fidelity", "relative_l2", "topk_agreement"]


def _rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(1, -1)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def centered_cosine(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Mean row-wise cosine after subtracting the reference's mean row from both sets.

    Centring removes the direction every output shares (collapsed embeddings have raw cosine
    near 1 whatever the model does). With a single row no centring is done.
    """
    ref, cand = _rows(reference), _rows(candidate)
    center = ref.mean(0) if len(ref) > 1 else np.zeros(ref.shape[1])
    return float(np.mean(np.sum(_unit(ref - center) * _unit(cand - center), axis=1)))


def topk_agreement(reference: np.ndarray, candidate: np.ndarray, k: int = 10) -> float:
    """Mean overlap (in [0, 1]) of each row's ``k`` nearest neighbours (cosine) in the two output sets."""
    ref, cand = _rows(reference), _rows(candidate)
    k = min(k, len(ref) - 1)
    if k < 1:
        return 1.0

    def neighbours(x: np.ndarray) -> np.ndarray:
        u = _unit(x)
        sim = u @ u.T
        np.fill_diagonal(sim, -np.inf)
        return np.argsort(-sim, axis=1, kind="stable")[:, :k]

    a, b = neighbours(ref), neighbours(cand)
    return float(np.mean([len(np.intersect1d(x, y)) / k for x, y in zip(a, b, strict=True)]))


def relative_l2(reference: np.ndarray, candidate: np.ndarray) -> float:
    """``||candidate - reference|| / ||reference||`` over all rows."""
    ref, cand = _rows(reference), _rows(candidate)
    norm = float(np.linalg.norm(ref))
    return float(np.linalg.norm(cand - ref) / norm) if norm > 0 else float(np.linalg.norm(cand))


def class_agreement(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Fraction of rows whose arg-max class is the same (for classifier logits)."""
    ref, cand = _rows(reference), _rows(candidate)
    return float(np.mean(ref.argmax(1) == cand.argmax(1)))


try:  # the zoo's definitions, when installed, are the reference ones
    from zoo.metrics import centered_cosine, relative_l2, topk_agreement  # type: ignore[no-redef]  # noqa: F811
except ImportError:  # pragma: no cover - depends on what is installed
    pass


def fidelity(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """Centered cosine, top-10 neighbour agreement, relative L2, and top-1 class agreement for logits."""
    result = {
        "centered_cosine": centered_cosine(reference, candidate),
        "topk_agreement": topk_agreement(reference, candidate),
        "relative_l2": relative_l2(reference, candidate),
    }
    ref = np.asarray(reference)
    if ref.ndim == 2 and 1 < ref.shape[1] <= 1000:
        result["top1_class_agreement"] = class_agreement(reference, candidate)
    return result
