"""Choosing the candidate to recommend for a goal, and the Pareto front."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genie.goal import Candidate, Goal

__all__ = ["failures", "mark_pareto", "pareto_front", "recommend", "target_met"]


def mark_pareto(candidates: Sequence[Candidate]) -> None:
    """Set ``pareto`` on candidates not dominated in (speed-up, fidelity, size)."""
    for cand in candidates:
        cand.pareto = not any(
            other is not cand
            and other.speedup >= cand.speedup
            and other.score >= cand.score
            and other.size_bytes <= cand.size_bytes
            and (other.speedup > cand.speedup or other.score > cand.score or other.size_bytes < cand.size_bytes)
            for other in candidates
        )


def pareto_front(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates on the Pareto front, fastest first."""
    mark_pareto(candidates)
    return sorted((c for c in candidates if c.pareto), key=lambda c: -c.speedup)


def failures(cand: Candidate, baseline: Candidate, goal: Goal) -> list[str]:
    """The goal's constraints (other than the target) that ``cand`` fails, each with by how much."""
    out = []
    if not np.isfinite(cand.speedup) or cand.speedup < 1.0:
        out.append(f"speed: {cand.speedup:.2f}x, slower than the original")
    if goal.evaluate is not None and baseline.metric is not None:
        if cand.metric is None:
            out.append("task metric: not evaluated")
        elif baseline.metric - cand.metric > goal.max_metric_drop:
            drop = baseline.metric - cand.metric
            out.append(
                f"task metric: {cand.metric:.4f}, {drop:.4f} below the original (allowed {goal.max_metric_drop:g})"
            )
    elif not cand.score >= goal.min_fidelity:
        out.append(
            f"fidelity: {cand.score:.4f} < {goal.min_fidelity:g} (short by {goal.min_fidelity - cand.score:.4f})"
        )
    elif not cand.score_low >= goal.min_fidelity:  # the estimate is noisy: its lower bound must hold too
        out.append(
            f"fidelity: {cand.score:.4f} ± {cand.score_se:.4f} is not clearly >= {goal.min_fidelity:g} "
            f"(estimate less one standard error {cand.score_low:.4f})"
        )
    if goal.max_size_mb is not None and cand.size_bytes > goal.max_size_mb * 1e6:
        out.append(f"size: {cand.size_bytes / 1e6:.1f} MB > {goal.max_size_mb:g} MB")
    return out


SAME_SPEED = 0.97
"""Speed-ups within 3% of the fastest count as equal: interleaved timings spread about that much."""


def _quality(cand: Candidate) -> float:
    return cand.metric if cand.metric is not None else cand.score


def _fastest(candidates: Sequence[Candidate]) -> Candidate:
    """The fastest candidate, where those within the timing noise of it go to the most faithful."""
    top = max(c.speedup for c in candidates)
    tied = [c for c in candidates if c.speedup >= SAME_SPEED * top]
    return max(tied, key=lambda c: (round(_quality(c), 4), c.speedup))


def _tie_note(best: Candidate, candidates: Sequence[Candidate]) -> str:
    top = max(candidates, key=lambda c: c.speedup)
    if top is best:
        return ""
    return f"; as fast as {top.name} ({top.speedup:.2f}x, within {1 - SAME_SPEED:.0%}) and more faithful"


def recommend(
    candidates: Sequence[Candidate], baseline: Candidate, goal: Goal
) -> tuple[Candidate | None, str, list[Candidate]]:
    """Pick the candidate to recommend for ``goal``; return it, a message, and the closest others.

    Rules: a candidate is *eligible* when it is measured at least as fast as the original
    (speed-up >= 1), reaches ``min_fidelity`` with its estimate less one standard error (or, with
    a task metric, loses at most ``max_metric_drop`` of it) and fits ``max_size_mb``. With a target,
    the most faithful eligible candidate meeting it is recommended (ties: the faster); if none meets it, the
    fastest eligible one is recommended as the closest, and the message says by how much it misses
    the target (:func:`target_met` tells the two apart). Without a target,
    the fastest eligible candidate is recommended. "Fastest" allows for timing noise: candidates
    within 3% (``SAME_SPEED``) of the fastest count as equally fast, and the most faithful of them
    is taken. The message says which constraint failed and by how much.
    """
    eligible = [c for c in candidates if not failures(c, baseline, goal)]
    target_ms = _target_ms(baseline, goal)
    if not eligible:
        return None, _none_eligible(candidates, baseline, goal), _closest(candidates, baseline, goal)
    if target_ms is None:
        best = _fastest(eligible)
        note = _tie_note(best, eligible)
        return best, f"fastest candidate meeting the goal: {best.name} ({best.speedup:.2f}x{note})", []
    meeting = [c for c in eligible if _meets(c, baseline, goal, target_ms)]
    if meeting:
        best = max(meeting, key=lambda c: (round(_quality(c), 4), c.speedup))
        return best, f"{best.name} meets the target ({best.latency_ms:.2f} ms, {best.speedup:.2f}x)", []
    first = _fastest(eligible)
    closest = [first, *sorted((c for c in eligible if c is not first), key=lambda c: -c.speedup)[:2]]
    need = baseline.latency_ms / target_ms
    return (
        closest[0],
        (
            f"speed: the target ({target_ms:.2f} ms, {need:.2f}x) cannot be met at the quality floor; "
            f"recommending the closest, {closest[0].name} at {closest[0].speedup:.2f}x "
            f"({closest[0].latency_ms:.2f} ms, {need / closest[0].speedup:.2f}x short)"
        ),
        closest,
    )


def target_met(cand: Candidate | None, baseline: Candidate, goal: Goal) -> bool:
    """Whether ``cand`` meets the goal's speed target (True without a target; False for ``None``)."""
    if cand is None:
        return False
    target_ms = _target_ms(baseline, goal)
    return target_ms is None or _meets(cand, baseline, goal, target_ms)


def _target_ms(baseline: Candidate, goal: Goal) -> float | None:
    """The goal's latency target in ms (from ``target_speedup`` when that is what was given), or ``None``."""
    if goal.target_latency_ms is None and goal.target_speedup is not None:
        return baseline.latency_ms / goal.target_speedup
    return goal.target_latency_ms


def _closest(candidates: Sequence[Candidate], baseline: Candidate, goal: Goal) -> list[Candidate]:
    faster = [c for c in candidates if np.isfinite(c.speedup) and c.speedup >= 1.0]
    return sorted(faster, key=lambda c: -_quality(c))[:3]


def _none_eligible(candidates: Sequence[Candidate], baseline: Candidate, goal: Goal) -> str:
    """Which constraints kept every candidate out, with the nearest miss for each."""
    by_kind: dict[str, list[tuple[Candidate, str]]] = {}
    for cand in candidates:
        for failure in failures(cand, baseline, goal):
            by_kind.setdefault(failure.split(":")[0], []).append((cand, failure))
    parts = []
    for kind, items in by_kind.items():
        fast = max(items, key=lambda item: item[0].speedup if np.isfinite(item[0].speedup) else 0.0)
        parts.append(f"{len(items)} failed on {kind} (e.g. {fast[0].name} at {fast[0].speedup:.2f}x: {fast[1]})")
    return "no candidate meets the goal: " + "; ".join(parts) if parts else "no candidate was built"


def _meets(cand: Candidate, baseline: Candidate, goal: Goal, target_ms: float) -> bool:
    if goal.target_speedup is not None:
        return cand.speedup >= goal.target_speedup
    return cand.latency_ms <= target_ms or cand.speedup >= baseline.latency_ms / target_ms
