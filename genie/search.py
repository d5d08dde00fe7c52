"""The genie's search: INT8, mixed precision and pruning under a latency goal and a time budget.

INT8 with the calibration chosen on held-out data, the most sensitive layers kept in float, and
NetAdapt-style progressive pruning, alone and combined.

Steps (each reported to ``progress(stage, done, total)``):

1. *calibrate*: calibration and held-out inputs (:mod:`genie.inputs`: shapes of dynamic inputs,
   small sets topped up); the original's outputs on them.
2. *int8*: calibration methods screened, the best refined, sensitive layers kept in float when
   INT8 misses the floor (:mod:`genie.int8`).
3. *profile* / *sensitivity*: per-layer latency tables and each prunable group's loss pruned
   alone (:mod:`genie.prune_step`).
4. *trajectory*: greedy pruning plans at speed-up and loss levels, in FP32 and INT8
   (:mod:`genie.planning`); a closed loop aims more plans at the floor from the built ones.
5. *build*: every candidate built from its recipe through the editing core, its fidelity
   measured on held-out inputs; plans that just miss the floor also fine-tuned when PyTorch is
   there and the budget allows.
6. *measure*: all candidates timed interleaved with the original (:mod:`genie.measure`).
7. *verify*: the task metric (``Goal.evaluate``); the pick confirmed on inputs it was not chosen on,
   re-fit without each of the last given images where a few were given (:mod:`genie.verify`), and,
   for dynamic inputs, run at two other input sizes.

The search keeps to ``Goal.budget_s`` (each step asks the clock, :mod:`genie.budget`) and stops
within seconds when ``cancel`` is set, recommending from what was measured. It yields candidates;
it never changes the model it was given. :func:`recommend` picks one for a goal.
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genie.budget import Clock
from genie.building import MIN_BUILT, build_candidates, measure_all, predict, predictor_error
from genie.explain import explain
from genie.goal import Candidate, Goal, Progress, SearchResult, Spec
from genie.inputs import outputs_of, prepare_inputs
from genie.int8 import int8_step
from genie.measure import default_threads
from genie.planning import distinct, finetuned_specs, refined_losses
from genie.prune_step import prune_step
from genie.quantization import fp16_edit
from genie.recommend import mark_pareto, pareto_front, recommend, target_met
from genie.sensitivity import SENSITIVITY_SAMPLES
from genie.verify import check_sizes, confirm, evaluate_all, fitted_edits, leave_out
from modelps.compress.calib import source_sha256
from modelps.edits import Edit
from modelps.edits.quantize_int8 import QuantizeInt8
from modelps.model import Model

__all__ = ["Candidate", "Goal", "Progress", "SearchResult", "pareto_front", "recommend", "search"]

logger = logging.getLogger(__name__)

RESERVE = 0.12
"""The share of the budget kept for timing and verifying the candidates built."""
FOLD_RESERVE = 0.15
"""The further share kept where a pick is checked by rebuilding it without one given input."""
MAX_REBUILDS = 3
"""How many re-fitted picks the leave-one-out check rebuilds before the rest are passed over."""
FINETUNE_STEPS = 300
STEP_COST = 48
"""Seconds per fine-tuning step (a batch of 8, forward and backward, teacher included) per second of latency."""
QAT_COST = 1.4
"""A quantization-aware step costs this many float steps (fused fake quantization of every activation)."""


def search(
    model: Model | str | Path,
    goal: Goal | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SearchResult:
    """Search for recipes meeting ``goal`` on ``model`` (a :class:`Model` or a file path).

    ``cancel``, when set (from another thread: the editor's Cancel), stops the search within
    seconds; the result then holds what was measured so far.

    Raises:
        ModelPSError: The model cannot be loaded or fed, or the goal is malformed.
        BackendUnavailable: The backend cannot run here.
    """
    goal = goal or Goal()
    clock = Clock(goal.budget_s, cancel)
    report = progress or (lambda stage, done, total: None)
    source = model if isinstance(model, Model) else Model.load(model)
    base = source.ir
    base_sha = source.base_sha256 if not source.history else None
    threads = goal.threads or default_threads()

    report("calibrate", 0, 1)
    inputs = prepare_inputs(base, goal)
    notes = list(inputs.notes)
    reference = outputs_of(base, inputs.held)
    probe_reference = outputs_of(base, inputs.calib[:SENSITIVITY_SAMPLES])
    calib_sha = source_sha256(goal.calib)
    report("calibrate", 1, 1)

    specs: list[Spec] = [("original", [], {})]
    spent = {"fp32": 0.0}  # fidelity loss each precision costs before any pruning
    int8 = None
    prebuilt = {}
    if "quantize" in goal.methods and not clock.expired():
        edit = QuantizeInt8(
            calib=inputs.source, calib_sha256=calib_sha, calib_samples=max(goal.calib_samples, len(inputs.calib)),
            seed=goal.seed, input_shapes=inputs.input_shapes,
        )  # fmt: skip
        result = int8_step(base, inputs, reference, edit, goal, clock, report, threads)
        notes += result.notes
        specs += result.specs
        prebuilt = {repr([e.to_dict() for e in s[1]]): result.built[s[0]] for s in result.specs if s[0] in result.built}
        if result.edit is not None and result.model is not None:
            int8 = (result.edit, result.model)
            spent["int8"] = max(0.0, 1.0 - result.scores.get(result.chosen, 1.0))
        fp16 = fp16_edit(goal.backend)
        if fp16 is not None:
            specs.append(("fp16", [fp16], {}))

    pruning = None
    if "prune" in goal.methods and clock.spent(0.5):
        notes.append(f"pruning skipped: {clock.elapsed():.0f} s of the {goal.budget_s:.0f} s budget went to INT8")
    elif "prune" in goal.methods:
        pruning = prune_step(base, inputs, probe_reference, int8, spent, goal, calib_sha, clock, report, threads)
        notes += pruning.notes
        specs += pruning.at_target

    with tempfile.TemporaryDirectory(prefix="modelps-genie-") as folder:
        store = Path(folder)
        reserve = (RESERVE + (FOLD_RESERVE if inputs.folds else 0.0)) * goal.budget_s

        def build(more: list[Spec], always: int = MIN_BUILT, failed: list[str] | None = None) -> list[Candidate]:
            return build_candidates(
                base, base_sha, more, inputs.held, reference, clock, report, store, always=always,
                reserve_s=reserve, prebuilt=prebuilt, shapes=inputs.shapes, groups=inputs.groups, failed=failed,
            )  # fmt: skip

        candidates = build(distinct(specs + (pruning.floor if pruning else [])))
        planner = pruning.planner if pruning else None
        if planner is not None and clock.left() > reserve:  # closed loop: aim plans at the floor from built ones
            precisions = sorted(pruning.tables, key=lambda p: p != "int8") if pruning else []
            refined = [
                spec
                for precision in precisions
                for spec in planner.specs(precision, [], refined_losses(candidates, precision, goal, spent), "fit")
            ]
            candidates += build(distinct(refined, candidates), always=0)
        if pruning is not None:
            candidates += build(distinct(pruning.extra, candidates), always=0)
        if planner is not None or int8 is not None:
            candidates += _finetune(candidates, goal, clock, build, notes, reserve)
        measure_all(candidates, goal, inputs.held[0], threads, report, clock)
        baseline = candidates[0]
        if pruning is not None:
            int8_name = next((c.name for c in candidates if int8 and c.recipe.edits == (int8[0],)), "int8")
            predict(candidates, base, pruning.tables, baseline, int8_name=int8_name)
        if goal.evaluate is not None:
            notes += evaluate_all(candidates, goal.evaluate, clock)
        others = candidates[1:]
        sensitivity = pruning.sensitivity if pruning else {}
        tables = pruning.tables if pruning else {}
        for cand in others:
            cand.explanation = explain(cand, baseline, sensitivity, tables)
        mark_pareto(others)
        recommended, message, closest = _recommend_checked(base, others, baseline, goal, inputs, notes, store, clock)
    met = target_met(recommended, baseline, goal)
    cancelled = clock.cancelled()  # read once: a cancel may arrive during measurement
    if cancelled:
        notes.append(f"cancelled after {clock.elapsed():.0f} s: recommending from the {len(others)} candidates built")
    elif clock.left() < 0:
        notes.append(f"the search took {clock.elapsed():.0f} s of its {goal.budget_s:.0f} s budget")
    return SearchResult(
        goal=goal,
        baseline=baseline,
        candidates=others,
        recommended=recommended,
        message=message,
        closest=closest,
        predictor_error=predictor_error(candidates),
        search_time_s=clock.elapsed(),
        sensitivity=sensitivity,
        notes=notes,
        advice="" if met else _advice(closest, others, goal, inputs, planner is not None),
        cancelled=cancelled,
        target_met=met,
        baseline_metric=baseline.metric,
    )


def _finetune(candidates, goal, clock, build, notes, reserve) -> list[Candidate]:  # type: ignore[no-untyped-def]
    """Fine-tuned versions of the plans that just miss the floor (and of INT8 near it), when PyTorch and time allow."""
    steps = goal.finetune_steps
    if steps == 0:
        return []
    if steps is None:
        try:
            import torch  # noqa: F401
        except ImportError:
            notes.append("fine-tuning skipped: PyTorch is not installed (pip install torch)")
            return []
        units = _units(finetuned_specs(candidates, goal, 1, limit=2))
        step_s = STEP_COST * _first_latency_ms(candidates) / 1000.0 * units
        affordable = (clock.left() - reserve) * 0.8 / max(step_s, 1e-3)
        steps = int(min(FINETUNE_STEPS, math.floor(affordable / 50) * 50))
        if steps < 50:
            if step_s:
                notes.append(
                    f"fine-tuning skipped: about {step_s:.2f} s per step, {max(clock.left() - reserve, 0):.0f} s "
                    f"left (--budget {int(goal.budget_s + FINETUNE_STEPS * step_s / 0.8)} would allow "
                    f"{FINETUNE_STEPS} steps)"
                )
            return []
    specs = finetuned_specs(candidates, goal, steps, limit=2)
    if not specs:
        return []
    fresh = distinct(specs, candidates)
    if not fresh:
        return []
    failed: list[str] = []
    built = build(fresh, always=0, failed=failed)
    if built:
        aware = sum(1 for c in built if _ends_aware(c.recipe.edits))
        notes.append(
            f"fine-tuned {len(built)} candidate(s) near the floor, {steps} steps each (distillation"
            + (f"; {aware} of them quantization-aware)" if aware else ")")
        )
    if failed:
        notes.append(f"fine-tuning failed on {len(failed)} plan(s): {failed[0]}")
    elif not built:
        notes.append(f"fine-tuning skipped: the time left did not fit {len(fresh)} plan(s) of {steps} steps")
    return built


def _units(specs: list[Spec]) -> float:
    """The cost of fine-tuning ``specs``, in steps of fine-tuning a float model (quantization-aware ones cost more)."""
    return sum(QAT_COST if _ends_aware(edits) else 1.0 for _, edits, _ in specs)


def _ends_aware(edits: Sequence[Edit]) -> bool:
    """Whether a recipe ends in quantization-aware fine-tuning."""
    return bool(edits) and isinstance(edits[-1], QuantizeInt8) and edits[-1].finetune_steps > 0


def _first_latency_ms(candidates: list[Candidate]) -> float:
    """An estimate of the original's latency before the final timing (from the model size)."""
    size_mb = candidates[0].size_bytes / 1e6 if candidates else 10.0
    return max(1.0, 0.35 * size_mb)


def _recommend_checked(base, others, baseline, goal, inputs, notes, folder, clock):  # type: ignore[no-untyped-def]
    """:func:`recommend`, dropping a pick that fails on fresh inputs, images left out of it, or other sizes.

    At most :data:`MAX_REBUILDS` re-fitted picks are rebuilt for the leave-one-out check, and none
    once the budget is 10% over; re-fitted candidates not checked are not recommended.
    """
    pool = list(others)
    cache: dict = {}
    rebuilt = 0
    while True:
        recommended, message, closest = recommend(pool, baseline, goal)
        if recommended is None:
            return recommended, message, closest
        ok, line = confirm(base, recommended, inputs, goal, cache)
        if ok and inputs.folds and fitted_edits(recommended.recipe.edits, inputs.source):
            if rebuilt >= MAX_REBUILDS or clock.left() < -0.1 * goal.budget_s:
                notes.append(f"{recommended.name} not recommended: not checked on images left out of its re-fit "
                             f"({rebuilt} re-fitted pick(s) checked, {clock.elapsed():.0f} s spent)")  # fmt: skip
                pool = [c for c in pool if not fitted_edits(c.recipe.edits, inputs.source)]
                continue
            rebuilt += 1
            ok, held = leave_out(base, recommended, inputs, goal, folder, cache)
            line = "; ".join(filter(None, [line, held]))
        if ok and inputs.dynamic:
            ok, sized = check_sizes(base, recommended, inputs)
            line = "; ".join(filter(None, [line, sized]))
        if line:
            notes.append(line)
        if ok:
            return recommended, message, closest
        pool.remove(recommended)


def _advice(closest, others, goal, inputs, pruned) -> str:  # type: ignore[no-untyped-def]
    """What would likely reach the goal, from the numbers measured."""
    if not others:
        return f"nothing was built within {goal.budget_s:.0f} s: try --budget {int(goal.budget_s * 3)}"
    tips = []
    best = max(others, key=lambda c: c.score if np.isfinite(c.score) else -1.0)
    if goal.target_speedup is not None or goal.target_latency_ms is not None:
        fastest_ok = closest[0] if closest else None
        if fastest_ok is not None:
            tips.append(f"the fastest candidate at the floor is {fastest_ok.name} ({fastest_ok.speedup:.2f}x)")
    near = [c for c in others if np.isfinite(c.score) and goal.min_fidelity - 0.01 <= c.score_low < goal.min_fidelity]
    if near:
        fast = max(near, key=lambda c: c.speedup)
        tips.append(
            f"{fast.name} reaches {fast.speedup:.2f}x at {fast.score:.4f}, just under the floor: "
            f"--min-fidelity {math.floor(fast.score_low * 1000) / 1000:g} would accept it"
        )
        if pruned and goal.finetune_steps != FINETUNE_STEPS:
            tips.append(f"fine-tuning could lift it: --finetune {FINETUNE_STEPS} --budget {int(goal.budget_s * 4)}")
    if pruned and len(inputs.calib) < 64 and not inputs.source.startswith("samples"):
        tips.append("more calibration inputs re-fit pruned layers better (--calib with 64 or more, --calib-samples 64)")
    if not tips:
        tips.append(
            f"the most faithful candidate is {best.name} at {best.score:.4f}; a larger --budget explores more plans"
        )
    return "; ".join(tips)
