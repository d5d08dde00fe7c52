"""Fidelity of a compressed model's outputs against the original's (numpy only).

Uses the zoo's ``zoo.metrics`` when it is installed and defines the same three measures
otherwise: centered cosine, top-k agreement and relative L2 error.

Example::

    >>> import numpy as np
    >>> ref = np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0], [0.0, 1.0, 5.0]])
    >>> round(centered_cosine(ref, ref * 2 + 1), 6), topk_agreement(ref, ref, k=1), relative_l2(ref, ref)
    (1.0, 1.0, 0.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["centered_cosine", "fidelity", "relative_l2", "topk_agreement"]


def _rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(1, -1)


def centered_cosine(reference: np.ndarray, output: np.ndarray) -> float:
    """Mean per-sample cosine similarity after subtracting each tensor's mean over the samples.

    Centering removes the offset shared by all samples (a bias both models agree on), so the score
    measures how well the sample-specific part is kept. With one sample no centering is done.
    """
    ref, out = _rows(reference), _rows(output)
    if len(ref) > 1:
        ref = ref - ref.mean(0, keepdims=True)
        out = out - out.mean(0, keepdims=True)
    num = (ref * out).sum(1)
    den = np.sqrt((ref * ref).sum(1) * (out * out).sum(1))
    cos = np.where(den > 0, num / np.maximum(den, 1e-300), np.where((ref == out).all(1), 1.0, 0.0))
    return float(cos.mean())


def topk_agreement(reference: np.ndarray, output: np.ndarray, k: int = 1) -> float:
    """Mean fraction of the reference's top-``k`` classes that are also in the output's top-``k``."""
    ref, out = _rows(reference), _rows(output)
    k = max(1, min(k, ref.shape[1]))
    top_ref = np.argsort(-ref, axis=1, kind="stable")[:, :k]
    top_out = np.argsort(-out, axis=1, kind="stable")[:, :k]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(top_ref, top_out, strict=True)]))


def relative_l2(reference: np.ndarray, output: np.ndarray) -> float:
    """``||output - reference|| / ||reference||`` over all samples."""
    ref, out = _rows(reference), _rows(output)
    norm = float(np.linalg.norm(ref))
    return float(np.linalg.norm(out - ref) / norm) if norm > 0 else float(np.linalg.norm(out))


try:  # prefer the zoo's definitions when they exist (same names and meaning)
    from zoo.metrics import centered_cosine, relative_l2, topk_agreement  # type: ignore[no-redef]  # noqa: F811
except ImportError:  # pragma: no cover - depends on what is installed
    pass


def fidelity(reference: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """All three measures; ``top1``/``top5`` only for 2-D outputs with several columns (logits)."""
    result = {"centered_cosine": centered_cosine(reference, output), "relative_l2": relative_l2(reference, output)}
    ref = np.asarray(reference)
    if ref.ndim == 2 and ref.shape[1] > 1:
        result["top1"] = topk_agreement(reference, output, 1)
        if ref.shape[1] >= 10:
            result["top5"] = topk_agreement(reference, output, 5)
    return result
