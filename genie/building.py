"""Building candidates from their recipes, timing them, and checking the latency predictor."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx_ir as ir

from genie.budget import Clock
from genie.goal import Candidate, Goal, Progress, Spec
from genie.inputs import build_model, compare, outputs_of
from genie.measure import Timing, measure
from genie.predictor import LayerTable, fractions_for
from modelps.compress.channels import analyze
from modelps.compress.prune import keep_count
from modelps.edits import Edit
from modelps.errors import ModelPSError
from modelps.inspect import node_costs
from modelps.measured import Outputs
from modelps.recipe import Recipe

__all__ = [
    "MIN_BUILT",
    "build_candidates",
    "count_flops",
    "measure_all",
    "predict",
    "predictor_error",
    "pruned_fraction",
]

logger = logging.getLogger(__name__)

MIN_BUILT = 1
"""Specs built whatever the time (the original; the INT8 variants come already built)."""


def build_candidates(
    base: ir.Model,
    base_sha: str | None,
    specs: Sequence[Spec],
    held: Sequence[Mapping[str, np.ndarray]],
    reference: Outputs,
    clock: Clock,
    report: Progress,
    store: Path,
    *,
    always: int = MIN_BUILT,
    reserve_s: float = 0.0,
    prebuilt: Mapping[str, ir.Model] | None = None,
    shapes: Mapping[str, Sequence[int]] | None = None,
    groups: Sequence[int] = (),
    failed: list[str] | None = None,
) -> list[Candidate]:
    """Build each spec's model through the editing core, measure its fidelity, write it to ``store``.

    A spec whose edits fail is logged, left out, and its error appended to ``failed``.

    ``groups`` names the source of each held-out input (crops of one image share it; see
    :func:`genie.inputs.compare`).

    The first ``always`` specs are built whatever the time; the others only while more than
    ``reserve_s`` seconds of the budget are left (the timing still to come). ``prebuilt`` maps a
    recipe (``repr`` of its edits) to a model built before (the INT8 variants).
    """
    from modelps.io import save

    candidates = []
    cache: dict[str, ir.Model] = dict(prebuilt or {})
    durations: list[float] = []
    for index, (name, edits, meta) in enumerate(specs):
        key = _key(edits)
        free = key in cache or not edits
        expected = float(np.median(durations)) if durations else 0.0
        if index >= always and not free and not clock.can_afford(expected, reserve_s):
            logger.info("budget spent: %d candidate(s) not built", len(specs) - index)
            break
        started = time.monotonic()
        try:
            if key in cache:
                model = cache[key]
            elif len(edits) == 2 and _key(edits[:1]) in cache:
                model = build_model(cache[_key(edits[:1])], edits[1:])
            else:
                model = build_model(base, edits)
            if len(edits) == 1:
                cache[key] = model
        except ModelPSError as exc:
            logger.warning("candidate %s failed: %s", name, exc)
            if failed is not None:
                failed.append(str(exc))
            continue
        if not free:
            durations.append(time.monotonic() - started)
        path = _free_path(store)
        save(model, path)
        cand = Candidate(name=name, recipe=Recipe(tuple(edits), base_sha), size_bytes=path.stat().st_size)
        cand.quantized = bool(meta.get("quantized"))
        cand.kept_float = tuple(meta.get("kept_float", ()))
        cand.details = {"model_path": str(path), **{k: v for k, v in meta.items() if k != "kept_float"}}
        cand.flops = count_flops(model, shapes)
        cand.fidelity = compare(reference, outputs_of(model, held) if edits else reference, groups)
        cand.pruned_fraction = pruned_fraction(base, meta.get("ratios") or {})
        candidates.append(cand)
        report("build", index + 1, len(specs))
    return candidates


def _free_path(store: Path) -> Path:
    """A file name not yet used in ``store``.

    The search builds in several batches into one folder: numbering each batch from 0 overwrote
    the original's file with a later candidate, and every speed-up was then measured against it.
    """
    number = 0
    while (store / f"{number:03d}.onnx").exists():
        number += 1
    return store / f"{number:03d}.onnx"


def _key(edits: Sequence[Edit]) -> str:
    return repr([e.to_dict() for e in edits])


MIN_BLOCK_MS = 25.0
"""Each timed block of the original lasts at least this long (more calls per block for fast models)."""

MIN_TOTAL_MS = 1000.0
"""With time to spare, the original is timed at least this long in all (more rounds for fast models)."""


def measure_all(
    candidates: Sequence[Candidate],
    goal: Goal,
    feed: Mapping[str, np.ndarray],
    threads: int,
    report: Progress,
    clock: Clock,
) -> None:
    """Time every candidate against the original (interleaved), in the time the budget has left."""
    models = {c.name: c.details["model_path"] for c in candidates}
    rounds = 7 if len(models) <= 8 else 5
    spare = clock.left() > 0.5 * clock.budget  # a fast search (a small model): time it longer, it is cheap
    if spare:
        rounds *= 2
    timings: dict[str, Timing] = measure(
        models,
        feed,
        baseline="original",
        backend=goal.backend,
        threads=threads,
        rounds=rounds,
        iters=5,
        seed=goal.seed,
        progress=lambda done, total: report("measure", done, total),
        stop=lambda: clock.left() < 0.02 * clock.budget or clock.cancelled(),
        min_block_ms=MIN_BLOCK_MS,
        min_total_ms=MIN_TOTAL_MS if spare else 0.0,
    )
    for cand in candidates:
        t = timings[cand.name]
        cand.latency_ms = t.median_ms
        cand.spread_ms = (t.p10_ms, t.p90_ms)
        cand.speedup = t.speedup
        cand.details["speedup_spread"] = t.speedup_spread


def predict(
    candidates: Sequence[Candidate],
    base: ir.Model,
    tables: Mapping[str, LayerTable],
    baseline: Candidate,
    int8_name: str = "int8",
) -> None:
    """Set each candidate's latency predicted from the per-layer tables (calibrated on the measured ones)."""
    if "fp32" not in tables:
        return
    analysis = analyze(base)
    int8 = next((c for c in candidates if c.name == int8_name), None)
    for precision, table in tables.items():
        ref = baseline if precision == "fp32" else int8
        if ref is not None:
            table.calibrate(ref.latency_ms)
    points: dict[str, list[tuple[dict[str, float], float]]] = {p: [] for p in tables}
    fractions: dict[str, dict[str, float]] = {}
    for cand in candidates:
        ratios = cand.details.get("ratios") or {}
        keep = {}
        for name, ratio in ratios.items():
            group = analysis.group(name)
            keep[group.id] = np.arange(keep_count(group.size, ratio, 8))
        fractions[cand.name] = fractions_for(base, analysis, keep)
        precision = "int8" if cand.quantized else "fp32"
        if ratios and precision in tables:
            points[precision].append((fractions[cand.name], cand.latency_ms))
    for cand in candidates:
        precision = "int8" if cand.quantized else "fp32"
        other_variant = cand.quantized and not cand.details.get("ratios") and cand.name != int8_name
        if precision in tables and not other_variant:
            cand.predicted_ms = tables[precision].predict(fractions[cand.name])


def predictor_error(candidates: Sequence[Candidate]) -> dict[str, float]:
    """How far the predicted latencies of the pruned candidates were from the measured ones."""
    errors = [
        abs(c.predicted_ms - c.latency_ms) / c.latency_ms
        for c in candidates
        if c.predicted_ms is not None and c.details.get("ratios") and c.latency_ms > 0
    ]
    if not errors:
        return {}
    arr = np.array(errors)
    return {
        "median_abs_rel_error": float(np.median(arr)),
        "max_abs_rel_error": float(arr.max()),
        "within_10pct": float((arr <= 0.1).mean()),
        "points": float(arr.size),
    }


def pruned_fraction(base: ir.Model, ratios: Mapping[str, float]) -> float:
    """The fraction of all prunable channels that ``ratios`` remove."""
    if not ratios:
        return 0.0
    analysis = analyze(base)
    total = sum(g.size for g in analysis.prunable)
    removed = sum(analysis.group(n).size - keep_count(analysis.group(n).size, r, 8) for n, r in ratios.items())
    return removed / total if total else 0.0


def count_flops(model: ir.Model, shapes: Mapping[str, Sequence[int]] | None = None) -> int:
    """Multiply-accumulate FLOPs (2 per MAC) of the model at ``shapes`` (:mod:`modelps.inspect`), 0 if unknown."""
    costs = node_costs(model, shapes=shapes)
    return 2 * sum(c.macs or 0 for c in costs)
