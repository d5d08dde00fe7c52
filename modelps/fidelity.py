"""Fidelity of a model's outputs to a reference's, on the same inputs: any output rank, any count.

The one implementation of the label-free measures that validation, the genie, the zoo and the
editor report. An output set is one array whose first axis is the sample axis, or several such
arrays (a model's outputs, by name or in order); each output is flattened per sample. Float
outputs are compared with:

``centered_cosine``
    mean per-sample cosine after subtracting the reference's mean sample from both sets: outputs
    that share one direction (collapsed embeddings, a constant background in a map) have raw
    cosine near 1 whatever the model does; centring removes what every sample shares. It needs
    at least two samples and is left out (never reported as 0) with fewer.
``centered_cosine_se``
    its standard error over the samples (``std / sqrt(n)``): how far the estimate may be off.
``cosine``
    mean raw per-sample cosine: computable from one sample.
``relative_l2``, ``max_abs``
    ``||cand - ref|| / ||ref||`` over everything, and the largest absolute difference.
``topk_agreement``
    overlap of each sample's ``k`` nearest neighbours (cosine) in the two sets (three samples
    or more).
``top1_class_agreement``
    for 2-D outputs of at most 1,000 columns (logits): how often the arg-max is the same.

With several outputs each measure is taken per output and the worst one is reported (lowest
cosine or agreement, highest error), so a broken auxiliary output is not averaged away. Integer
and boolean outputs count through ``exact_agreement`` (the fraction of equal elements).
``samples`` is the number of samples compared, ``finite`` is 0.0 when the candidate has a NaN or
infinity the reference has not.

Example::

    >>> import numpy as np
    >>> ref = np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0], [0.0, 1.0, 5.0]])
    >>> f = fidelity(ref, ref + 1e-9)
    >>> round(f["centered_cosine"], 6), f["topk_agreement"], f["samples"]
    (1.0, 1.0, 3.0)
    >>> "centered_cosine" in fidelity(ref[:1], ref[:1] * 2)   # one sample: not computable
    False
    >>> score(fidelity(ref[:1], ref[:1] * 2))                 # falls back to the raw cosine
    1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "Outputs",
    "centered_cosine",
    "class_agreement",
    "fidelity",
    "per_sample_scores",
    "relative_l2",
    "score",
    "score_name",
    "topk_agreement",
]

Outputs = np.ndarray | Sequence[np.ndarray] | Mapping[str, np.ndarray]
_EPS = 1e-12
_HIGHER_IS_WORSE = frozenset({"relative_l2", "max_abs", "centered_cosine_se"})


def _rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(-1, 1)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _EPS)


def _centered(ref: np.ndarray, cand: np.ndarray) -> np.ndarray:
    center = ref.mean(0)
    return np.sum(_unit(ref - center) * _unit(cand - center), axis=1)


def centered_cosine(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Mean per-sample cosine after subtracting the reference's mean sample (NaN below 2 samples)."""
    ref, cand = _rows(reference), _rows(candidate)
    return float(np.mean(_centered(ref, cand))) if len(ref) > 1 else float("nan")


def topk_agreement(reference: np.ndarray, candidate: np.ndarray, k: int = 10) -> float:
    """Mean overlap (in [0, 1]) of each sample's ``k`` nearest neighbours in the two sets (NaN below 3)."""
    ref, cand = _rows(reference), _rows(candidate)
    k = min(k, len(ref) - 1)
    if len(ref) < 3 or k < 1:
        return float("nan")

    def neighbours(x: np.ndarray) -> np.ndarray:
        u = _unit(x)
        sim = u @ u.T
        np.fill_diagonal(sim, -np.inf)
        return np.argsort(-sim, axis=1, kind="stable")[:, :k]

    a, b = neighbours(ref), neighbours(cand)
    return float(np.mean([len(np.intersect1d(x, y)) / k for x, y in zip(a, b, strict=True)]))


def relative_l2(reference: np.ndarray, candidate: np.ndarray) -> float:
    """``||candidate - reference|| / ||reference||`` over all samples (Frobenius norms)."""
    ref, cand = _rows(reference), _rows(candidate)
    return float(np.linalg.norm(cand - ref) / max(float(np.linalg.norm(ref)), _EPS))


def class_agreement(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Fraction of samples whose arg-max class is the same (for classifier logits)."""
    ref, cand = _rows(reference), _rows(candidate)
    return float(np.mean(ref.argmax(1) == cand.argmax(1)))


def _as_list(outputs: Outputs) -> list[np.ndarray]:
    if isinstance(outputs, (np.ndarray, np.generic)):
        items = [np.asarray(outputs)]
    elif isinstance(outputs, Mapping):
        items = [np.asarray(outputs[k]) for k in outputs]
    else:
        items = [np.asarray(o) for o in outputs]
    return [np.atleast_1d(item) for item in items]


def _one(ref: np.ndarray, cand: np.ndarray, k: int) -> dict[str, float]:
    if ref.shape != cand.shape:
        raise ValueError(f"fidelity needs outputs of one shape, got {ref.shape} and {cand.shape}")
    if not (np.issubdtype(ref.dtype, np.floating) or np.issubdtype(ref.dtype, np.complexfloating)):
        return {"exact_agreement": float(np.mean(ref == cand)) if ref.size else 1.0}
    finite_ref = np.isfinite(ref)
    result = {"finite": float(np.array_equal(finite_ref, np.isfinite(cand)))}
    if ref.size == 0:
        return result
    if not finite_ref.all():  # compare where the reference is finite
        ref, cand = np.where(finite_ref, ref, 0.0), np.where(finite_ref, cand, 0.0)
    if not np.isfinite(cand).all():
        return result | {"cosine": float("nan"), "relative_l2": float("inf"), "max_abs": float("inf")}
    a, b = _rows(ref), _rows(cand)
    result["cosine"] = float(np.mean(np.sum(_unit(a) * _unit(b), axis=1)))
    result["relative_l2"] = relative_l2(a, b)
    result["max_abs"] = float(np.max(np.abs(a - b)))
    if len(a) > 1:
        per_sample = _centered(a, b)
        result["centered_cosine"] = float(np.mean(per_sample))
        result["centered_cosine_se"] = float(np.std(per_sample, ddof=1) / np.sqrt(len(a)))
    agreement = topk_agreement(a, b, k)
    if not np.isnan(agreement):
        result["topk_agreement"] = agreement
    if ref.ndim == 2 and 1 < ref.shape[1] <= 1000:
        result["top1_class_agreement"] = class_agreement(a, b)
    return result


def fidelity(reference: Outputs, candidate: Outputs, *, k: int = 10) -> dict[str, float]:
    """Every measure that can be computed, worst over the outputs (see the module docstring).

    Raises:
        ValueError: The two sets differ in the number of outputs or in an output's shape.
    """
    refs, cands = _as_list(reference), _as_list(candidate)
    if len(refs) != len(cands) or not refs:
        raise ValueError(f"fidelity needs the same outputs on both sides, got {len(refs)} and {len(cands)}")
    per_output = [_one(r, c, k) for r, c in zip(refs, cands, strict=True)]
    combined: dict[str, float] = {}
    for result in per_output:
        for key, value in result.items():
            if key not in combined:
                combined[key] = value
            elif key in _HIGHER_IS_WORSE:
                combined[key] = max(combined[key], value)
            else:
                combined[key] = min(combined[key], value)
    combined["samples"] = float(len(refs[0]))
    return combined


def per_sample_scores(reference: Outputs, candidate: Outputs) -> np.ndarray:
    """Per-sample centred cosine of the worst float output (raw cosine below 2 samples).

    Two candidates compared on the same inputs differ by the mean of the paired differences of
    these, whose standard error is much smaller than either estimate's own.
    """
    worst: np.ndarray | None = None
    for ref, cand in zip(_as_list(reference), _as_list(candidate), strict=True):
        if not np.issubdtype(ref.dtype, np.floating):
            continue
        a, b = _rows(np.nan_to_num(ref)), _rows(np.nan_to_num(cand))
        scores = _centered(a, b) if len(a) > 1 else np.sum(_unit(a) * _unit(b), axis=1)
        if worst is None or scores.mean() < worst.mean():
            worst = scores
    return worst if worst is not None else np.ones(len(_as_list(reference)[0]))


def score_name(result: Mapping[str, float]) -> str:
    """The measure :func:`score` reads: centred cosine where computable, else raw cosine."""
    for key in ("centered_cosine", "cosine", "exact_agreement"):
        if key in result:
            return key
    return "finite"


def score(result: Mapping[str, float]) -> float:
    """One number in [-1, 1] (1 = same outputs) to rank and threshold on; NaN when outputs broke."""
    if result.get("finite", 1.0) == 0.0:
        return float("nan")
    return float(result[score_name(result)]) if score_name(result) in result else float("nan")
