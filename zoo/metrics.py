"""Quality metrics of embedding models (numpy only: usable without torch).

Task metrics: :func:`reid_metrics` (Rank-k, mAP), :func:`face_verification` (accuracy, TAR@FAR),
:func:`knn_accuracy` (SSL). The label-free fidelity of an edited model against its original
(:func:`fidelity`: centred cosine, top-k neighbour agreement, relative L2 error, for outputs of any
rank) is :mod:`modelps.fidelity`'s, re-exported here.

Example::

    >>> import numpy as np
    >>> ref = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> f = fidelity(ref, ref, k=1)
    >>> [round(f[k], 3) for k in ("centered_cosine", "cosine", "topk_agreement", "relative_l2")]
    [1.0, 1.0, 1.0, 0.0]
"""

from __future__ import annotations

import numpy as np

from modelps.fidelity import centered_cosine, fidelity, relative_l2, topk_agreement

__all__ = [
    "average_precision",
    "centered_cosine",
    "face_verification",
    "fidelity",
    "knn_accuracy",
    "l2_normalize",
    "relative_l2",
    "reid_metrics",
    "tar_at_far",
    "topk_agreement",
]

_EPS = 1e-12


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero); float64."""
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _EPS)


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Average precision of one ranked list: mean of precision@rank over the relevant items.

    >>> average_precision(np.array([0.9, 0.8, 0.7]), np.array([False, True, True]))  # (1/2 + 2/3) / 2
    0.5833333333333333
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = np.asarray(relevant, bool)[order]
    if not hits.any():
        return 0.0
    ranks = np.flatnonzero(hits) + 1
    return float(np.mean(np.arange(1, len(ranks) + 1) / ranks))


def reid_metrics(
    query: np.ndarray,
    query_ids: np.ndarray,
    gallery: np.ndarray,
    gallery_ids: np.ndarray,
    query_cams: np.ndarray | None = None,
    gallery_cams: np.ndarray | None = None,
    ranks: tuple[int, ...] = (1, 5),
) -> dict[str, float]:
    """Person re-id retrieval: CMC Rank-k and mAP with cosine similarity.

    Follows the Market-1501 protocol: gallery images of the query's identity taken by the query's
    camera are excluded; queries without any true match are skipped.

    Returns:
        ``{"rank1": ..., "rank5": ..., "mAP": ..., "queries": n}`` (fractions in [0, 1]).
    """
    q, g = l2_normalize(query), l2_normalize(gallery)
    sims = q @ g.T
    qids, gids = np.asarray(query_ids), np.asarray(gallery_ids)
    qc = np.full(len(qids), -1) if query_cams is None else np.asarray(query_cams)
    gc = np.full(len(gids), -2) if gallery_cams is None else np.asarray(gallery_cams)
    cmc = np.zeros(max(ranks))
    aps = []
    for i in range(len(qids)):
        keep = ~((gids == qids[i]) & (gc == qc[i]))
        good = (gids == qids[i])[keep]
        if not good.any():
            continue
        s = sims[i][keep]
        aps.append(average_precision(s, good))
        first = int(np.flatnonzero(good[np.argsort(-s, kind="stable")])[0])
        if first < len(cmc):
            cmc[first:] += 1
    n = len(aps)
    out = {f"rank{r}": float(cmc[r - 1] / n) if n else 0.0 for r in ranks}
    out["mAP"] = float(np.mean(aps)) if n else 0.0
    out["queries"] = n
    return out


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> float:
    """Return the true accept rate at the smallest threshold whose false accept rate is at most ``far``.

    >>> tar_at_far(np.array([0.9, 0.8, 0.7, 0.2, 0.75]), np.array([1, 1, 1, 0, 0], bool), 0.4)
    0.6666666666666666
    """
    same = np.asarray(same, bool)
    neg = np.sort(np.asarray(scores)[~same])[::-1]
    allowed = int(np.floor(far * len(neg)))  # negatives that may score above the threshold
    threshold = neg[allowed] if allowed < len(neg) else -np.inf
    return float(np.mean(np.asarray(scores)[same] > threshold))


def _best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """Return the accuracy-maximising threshold, placed midway between adjacent scores."""
    u = np.unique(scores)
    candidates = np.concatenate([[u[0] - 1], (u[1:] + u[:-1]) / 2, [u[-1] + 1]])
    order = np.argsort(scores)
    s, y = scores[order], same[order]
    # accuracy at threshold t: negatives below t plus positives at or above t
    neg_below = np.searchsorted(s, candidates, side="left")
    pos_cum = np.concatenate([[0], np.cumsum(y)])
    neg_count = neg_below - pos_cum[neg_below]
    pos_above = y.sum() - pos_cum[neg_below]
    acc = (neg_count + pos_above) / len(s)
    return float(candidates[int(np.argmax(acc))])


def face_verification(
    embeddings: np.ndarray, pairs: np.ndarray, same: np.ndarray, folds: int = 10, fars: tuple[float, ...] = (1e-2, 1e-1)
) -> dict[str, float]:
    """Face verification on image pairs with cosine similarity.

    Accuracy follows the LFW protocol: the threshold is chosen on ``folds - 1`` folds and applied
    to the held-out fold; the mean over folds is reported. TAR@FAR uses every pair.

    Returns:
        ``{"accuracy": ..., "tar@far=0.01": ..., "tar@far=0.1": ..., "pairs": n}``.
    """
    e = l2_normalize(embeddings)
    pairs = np.asarray(pairs)
    same = np.asarray(same, bool)
    scores = np.sum(e[pairs[:, 0]] * e[pairs[:, 1]], axis=1)
    fold_of = np.arange(len(scores)) % folds
    accs = []
    for f in range(folds):
        test = fold_of == f
        t = _best_threshold(scores[~test], same[~test])
        accs.append(np.mean((scores[test] >= t) == same[test]))
    out = {"accuracy": float(np.mean(accs))}
    out.update({f"tar@far={far:g}": tar_at_far(scores, same, far) for far in fars})
    out["pairs"] = len(scores)
    return out


def knn_accuracy(
    train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray, k: int = 20, t: float = 0.1
) -> float:
    """Weighted kNN accuracy (cosine similarity, weights ``exp(sim / t)``), as SSL monitors report it."""
    a, b = l2_normalize(train), l2_normalize(test)
    sims = b @ a.T
    k = min(k, len(a))
    idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    weights = np.exp(np.take_along_axis(sims, idx, 1) / t)
    labels = np.asarray(train_labels)[idx]
    classes = np.unique(train_labels)
    votes = np.stack([(weights * (labels == c)).sum(1) for c in classes], 1)
    return float(np.mean(classes[np.argmax(votes, 1)] == np.asarray(test_labels)))
