"""Pruning plans: greedy NetAdapt-style trajectories placed at speed-up and fidelity-loss levels."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx_ir as ir

from genie.goal import Candidate, Goal, Spec
from genie.predictor import FractionModel, LayerTable
from genie.sensitivity import interpolated_loss
from modelps.compress.channels import Analysis
from modelps.compress.prune import keep_count
from modelps.edits import Edit
from modelps.edits.prune_channels import PruneChannels
from modelps.edits.quantize_int8 import QuantizeInt8

__all__ = [
    "MAX_RATIO",
    "REFINE_MARGIN",
    "STEP",
    "QAT_HEADROOM",
    "QAT_REACH",
    "QAT_STEPS",
    "Planner",
    "distinct",
    "finetuned_specs",
    "loss_levels",
    "qat_targets",
    "quantized_only",
    "refined_losses",
    "speed_levels",
    "trajectory",
]

STEP = 0.125


MAX_RATIO = 0.75


REFINE_MARGIN = 0.9  # aim refined plans a little inside the fidelity floor (held-out noise)


def loss_levels(goal: Goal, spent: float) -> tuple[float, ...]:
    """Pruning-loss budgets at which to place candidates near the fidelity floor.

    ``spent`` is what the precision already costs (INT8's own loss), so INT8 + pruning plans stop
    where their sum reaches the floor. Sensitivities come from plain pruning and overstate the loss
    after reconstruction, hence a plan at three times the budget as well.
    """
    left = max(1.0 - goal.min_fidelity, 1e-4) - spent
    return tuple(round(left * f, 5) for f in (0.5, 1.0, 3.0)) if left > 0 else ()


def speed_levels(goal: Goal, fp32_ms: float, table: LayerTable, *, extra: bool = False) -> list[float]:
    """Speed-up levels (vs the FP32 original) at which to place candidates of a precision.

    Around the target (or default levels without one); with ``extra``, the goal's extra levels.
    """
    start = fp32_ms / table.total_ms if table.total_ms > 0 else 1.0
    if extra:
        return sorted(set(round(w, 3) for w in goal.levels if w > start * 1.04))
    target = goal.target_speedup
    if goal.target_latency_ms is not None:
        target = fp32_ms / goal.target_latency_ms
    wanted = [target * 0.9, target, target * 1.12] if target is not None else []
    if not wanted and not goal.levels:
        wanted = [1.25, 1.5, 2.0]
    steps = [w for w in wanted if w > start * 1.04]
    if wanted and not steps:  # this precision already beats every level: two faster points for the front
        steps = [start * 1.15, start * 1.3]
    return sorted(set(round(s, 3) for s in steps))


def distinct(specs: Sequence[Spec], built: Sequence[Candidate] = ()) -> list[Spec]:
    """Drop specs whose recipe repeats an earlier spec's or an already built candidate's."""
    seen = {repr([e.to_dict() for e in c.recipe.edits]) for c in built}
    out = []
    for spec in specs:
        key = repr([e.to_dict() for e in spec[1]])
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return out


class Planner:
    """Turns speed-up or loss levels into ``prune_channels`` (+ INT8) candidate specs."""

    def __init__(
        self,
        base: ir.Model,
        analysis: Analysis,
        groups: Sequence[Any],
        scores: Mapping[str, np.ndarray],
        sensitivity: Mapping[str, Mapping[str, float]],
        tables: Mapping[str, LayerTable],
        goal: Goal,
        calib_sha: str | None,
        quant_edit: Edit | None,
        source: str | None = None,
        input_shapes: Mapping[str, list[int]] | None = None,
        refit_samples: int | None = None,
    ) -> None:
        self.base, self.analysis, self.groups, self.scores = base, analysis, groups, scores
        self.sensitivity, self.tables, self.goal = sensitivity, tables, goal
        self.calib_sha, self.quant_edit = calib_sha, quant_edit
        self.source = source or goal.calib
        self.input_shapes = dict(input_shapes or {})
        self.refit_samples = refit_samples or goal.calib_samples
        self.fp32_ms = tables["fp32"].total_ms

    def specs(
        self, precision: str, levels: Sequence[float], loss_levels: Sequence[float], tag: str = "loss"
    ) -> list[Spec]:
        """One candidate spec per distinct plan of :func:`trajectory` for this precision."""
        plans = trajectory(
            self.base, self.analysis, self.groups, self.scores, self.sensitivity, self.tables[precision],
            levels, self.fp32_ms, loss_levels=loss_levels, tag=tag,
        )  # fmt: skip
        out: list[Spec] = []
        for label, ratios, planned in plans:
            edits: list[Edit] = [
                PruneChannels(
                    groups=dict(sorted(ratios.items())),
                    importance="ls",
                    round_to=8,
                    reconstruct=self.source,
                    calib_sha256=self.calib_sha,
                    calib_samples=self.refit_samples,
                    seed=self.goal.seed,
                    input_shapes=self.input_shapes,
                )
            ]
            meta: dict[str, Any] = {"ratios": ratios, "level": label, "planned_loss": planned}
            if precision == "int8" and self.quant_edit is not None:
                edits.append(self.quant_edit)
                meta["quantized"] = True
            out.append((f"{precision}-prune-{label}", edits, meta))
        return out


def refined_losses(
    candidates: Sequence[Candidate], precision: str, goal: Goal, spent: Mapping[str, float]
) -> list[float]:
    """Planned-loss levels at which a new plan should land just above the fidelity floor.

    The summed per-group sensitivities (the planned loss) misjudge the loss of a whole plan
    (reconstruction shrinks it, interactions grow it), so the plans already built are used as
    measurements of the real held-out loss against the planned one: interpolate between the
    largest plan that met the floor and the smallest that did not, or scale from the nearest one.
    """
    quantized = precision == "int8"
    own = spent.get(precision, 0.0)  # what the precision itself costs
    allowed = 1.0 - goal.min_fidelity - own
    points = sorted(
        (c.details["planned_loss"], 1.0 - c.score - own)
        for c in candidates
        if c.quantized == quantized and c.details.get("planned_loss", 0.0) > 0 and np.isfinite(c.score)
    )
    if allowed <= 0 or not points:
        return []
    met = [p for p in points if p[1] <= allowed]
    missed = [p for p in points if p[1] > allowed]
    if met and missed and max(met)[0] < min(missed)[0]:
        (x0, y0), (x1, y1) = max(met), min(missed)
        level = x0 + (allowed - y0) * (x1 - x0) / max(y1 - y0, 1e-9)
    else:  # scale from the nearest plan, by at most 3x either way
        x0, y0 = max(met) if met else min(missed)
        level = x0 * min(3.0, max(1.0 / 3.0, allowed / max(y0, 1e-9)))
    level *= REFINE_MARGIN
    known = [x for x, _ in points]
    if any(abs(level - x) <= 0.05 * x for x in known):
        return []  # a plan there was built already
    return [level]


def trajectory(
    base: ir.Model,
    analysis: Analysis,
    groups: Sequence[Any],
    scores: Mapping[str, np.ndarray],
    sensitivity: Mapping[str, Mapping[str, float]],
    table: LayerTable,
    levels: Sequence[float],
    fp32_ms: float,
    loss_levels: Sequence[float] = (),
    tag: str = "loss",
) -> list[tuple[str, dict[str, float], float]]:
    """Greedy progressive pruning plans: ``(label, ratios, planned loss)``.

    A plan is taken where the predicted speed-up (vs FP32) first reaches each of ``levels``
    (label ``"1.50x"``), and the last plan whose summed sensitivity loss stays within each of
    ``loss_levels`` (label ``"loss0.005"``, or ``tag`` instead of ``loss``: candidates near the
    fidelity floor). The planned loss is that sum.
    """
    names = [g.name for g in groups if g.name in sensitivity]
    ratios = {name: 0.0 for name in names}
    ids = {name: analysis.group(name).id for name in names}
    sizes = {name: analysis.group(name).size for name in names}
    model = FractionModel(base, analysis)

    def predicted(r: Mapping[str, float]) -> float:
        kept = {ids[n]: keep_count(sizes[n], v, 8) / sizes[n] for n, v in r.items() if v > 0}
        return table.predict(model.fractions(kept))

    current = predicted(ratios)
    plans: list[tuple[str, dict[str, float], float]] = []
    pending = sorted(levels)
    pending_loss = sorted(loss_levels)
    total_loss = 0.0
    previous: dict[str, float] = {}
    for _ in range(len(names) * int(MAX_RATIO / STEP) + 1):
        if not pending and not pending_loss:
            break
        best, best_value, best_ms, best_cost = None, -1.0, current, 0.0
        for name in names:
            nxt = ratios[name] + STEP
            if nxt > MAX_RATIO + 1e-9:
                continue
            trial = dict(ratios)
            trial[name] = nxt
            ms = predicted(trial)
            saved = current - ms
            if saved <= 0:
                continue
            cost = interpolated_loss(sensitivity[name], nxt) - interpolated_loss(sensitivity[name], ratios[name])
            value = saved / (max(cost, 0.0) + 1e-5)
            if value > best_value:
                best, best_value, best_ms, best_cost = name, value, ms, max(cost, 0.0)
        if best is None:
            break
        previous = {n: v for n, v in ratios.items() if v > 0}
        previous_loss = total_loss
        total_loss += best_cost
        while pending_loss and total_loss > pending_loss[0]:
            if previous:
                plans.append((f"{tag}{pending_loss[0]:.4g}", previous, previous_loss))
            pending_loss.pop(0)
        ratios[best] += STEP
        current = best_ms
        while pending and fp32_ms / current >= pending[0]:
            plans.append((f"{pending.pop(0):.2f}x", {n: v for n, v in ratios.items() if v > 0}, total_loss))
    unique: dict[str, tuple[str, dict[str, float], float]] = {}
    for label, plan, loss in plans:
        unique.setdefault(repr(sorted(plan.items())), (label, plan, loss))
    return list(unique.values())


QAT_HEADROOM = 0.005
"""INT8 alone within this much above the floor leaves pruning too little room: fine-tune it too."""
QAT_REACH = 0.01
"""Quantization-aware fine-tuning is tried on INT8 candidates at most this far below the floor: it
corrects rounding, which gained 0.001-0.004 on the models measured, never tens of thousandths."""
QAT_STEPS = 200
"""Quantization-aware fine-tuning corrects rounding, a smaller change than pruning's: fewer steps."""


def quantized_only(candidates: Sequence[Candidate], *, mixed: bool = False) -> Candidate | None:
    """The most faithful not fine-tuned candidate with one INT8 edit: no layer kept in float, or some (``mixed``)."""
    plain = [
        c for c in candidates
        if c.quantized and len(c.recipe.edits) == 1 and isinstance(c.recipe.edits[0], QuantizeInt8)
        and bool(c.recipe.edits[0].exclude) == mixed and not c.recipe.edits[0].finetune_steps
    ]  # fmt: skip
    return max(plain, key=lambda c: c.score, default=None)


def qat_targets(candidates: Sequence[Candidate], goal: Goal) -> list[Candidate]:
    """The quantize-only candidates worth fine-tuning quantization-aware.

    The most faithful INT8-only candidate when it is less than :data:`QAT_HEADROOM` above the floor,
    and the most faithful mixed-precision one still below the floor; each only when within
    :data:`QAT_REACH` below the floor.
    """
    found = []
    for mixed, ceiling in ((False, goal.min_fidelity + QAT_HEADROOM), (True, goal.min_fidelity)):
        best = quantized_only(candidates, mixed=mixed)
        if best is not None and goal.min_fidelity - QAT_REACH <= best.score < ceiling:
            found.append(best)
    return found


def _aware(edits: Sequence[Edit], steps: int) -> list[Edit]:
    """``edits`` with every INT8 edit made quantization-aware (fine-tuned for ``steps``, at most :data:`QAT_STEPS`)."""
    steps = min(steps, QAT_STEPS)
    return [dataclasses.replace(e, finetune_steps=steps) if isinstance(e, QuantizeInt8) else e for e in edits]


def finetuned_specs(candidates: Sequence[Candidate], goal: Goal, steps: int, limit: int = 4) -> list[Spec]:
    """Fine-tuned versions of the pruning plans that missed the fidelity floor by the least.

    Per precision: the plan with the smallest planned loss among those below the floor; with a
    target, also the (two least lossy) target-level plans below it of the fastest precision (INT8
    when there is one: the one that needs the least pruning to get there). Each plan's fine-tuned
    FP32 model comes first, so that its INT8 version reuses it, quantization-aware. At most
    ``limit`` plans. Before them, the quantization-aware fine-tuned versions (``…-qat``) of
    :func:`qat_targets`: they keep INT8's speed.
    """
    chosen: list[Candidate] = []
    fastest = any(c.quantized for c in candidates)
    plans = limit
    for quantized in (True, False):
        missed = [
            c for c in candidates
            if c.quantized == quantized and c.details.get("ratios") and not c.score >= goal.min_fidelity
        ]  # fmt: skip
        missed.sort(key=lambda c: c.details.get("planned_loss", 0.0))
        chosen += missed[:1]
        if quantized == fastest:
            chosen += [c for c in missed[1:] if c.details.get("target_level")][:2]
    chosen = chosen[:plans]
    specs: list[Spec] = []
    for best in qat_targets(candidates, goal):
        meta = {"quantized": True, "kept_float": best.kept_float} if best.kept_float else {"quantized": True}
        specs.append((f"{best.name}-qat", _aware(best.recipe.edits, steps), meta))
    for cand in chosen:
        prune_edit = dataclasses.replace(cand.recipe.edits[0], finetune_steps=steps)
        meta = {k: v for k, v in cand.details.items() if k != "model_path"}
        fp32_meta = {**meta, "quantized": False}
        specs.append((f"fp32-prune-{meta['level']}-ft", [prune_edit], fp32_meta))
        if cand.quantized:
            specs.append((f"{cand.name}-ft", [prune_edit, *_aware(cand.recipe.edits[1:], steps)], meta))
    taken = {c.name for c in candidates}
    for index, (name, edits, meta) in enumerate(specs):
        while name in taken:
            name += "'"
        taken.add(name)
        specs[index] = (name, edits, meta)
    return specs
