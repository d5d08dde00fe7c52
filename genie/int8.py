"""The search's INT8 step: screen calibrations, refine the best, keep sensitive layers in float.

:func:`int8_step` returns the INT8 candidates to build and measure, the variant to combine with
pruning, and notes on what it chose and why (with the held-out uncertainty of each choice).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np
import onnx_ir as ir

from genie.budget import Clock
from genie.goal import Goal, Progress, Spec
from genie.inputs import Inputs, build_model, outputs_of
from genie.mixed import leave_one_out, ranked_layers, search_float_set, sensitivity_proxy
from genie.quantization import choose, combined_variant, named_scores, op_type_variants, quant_variants, refinements
from modelps.edits.quantize_int8 import QuantizeInt8
from modelps.errors import ModelPSError
from modelps.fidelity import per_sample_scores
from modelps.measured import Outputs

__all__ = ["Int8Result", "int8_step"]

logger = logging.getLogger(__name__)

SHARE = 0.4
"""The share of the budget the INT8 step may use before it stops refining."""
CHECKED = 6
"""How many of the proxy's most sensitive layers are checked exactly (leave-one-out)."""


@dataclasses.dataclass
class Int8Result:
    """What the INT8 step found."""

    specs: list[Spec]
    chosen: str
    """The name of the variant to combine with pruning ("" when none could be built)."""
    edit: QuantizeInt8 | None
    """The variant to combine with pruning (None when no variant could be built)."""
    model: ir.Model | None
    scores: dict[str, float]
    notes: list[str]
    built: dict[str, ir.Model]


def int8_step(
    base: ir.Model,
    inputs: Inputs,
    reference: Outputs,
    edit: QuantizeInt8,
    goal: Goal,
    clock: Clock,
    report: Progress,
    threads: int,
) -> Int8Result:
    """Screen, refine and (when INT8 everywhere misses the floor) search mixed precision."""
    held, notes = inputs.held, []
    built: dict[str, tuple[QuantizeInt8, ir.Model]] = {}
    per_sample: dict[str, np.ndarray] = {}

    durations: list[float] = []

    def build(variants: list[tuple[str, QuantizeInt8]], stage: str) -> list[str]:
        done = []
        for index, (name, variant) in enumerate(variants):
            late = clock.spent(SHARE) or not clock.can_afford(max(durations, default=0.0), clock.budget * 0.25)
            if built and late:
                notes.append(
                    f"INT8 {stage} stopped after {index} of {len(variants)} variants (time budget; "
                    f"one variant takes about {max(durations):.0f} s)"
                )
                break
            started = time.monotonic()
            try:
                model = build_model(base, [variant])
            except ModelPSError as exc:
                logger.warning("INT8 variant %s failed: %s", name, exc)
                continue
            durations.append(time.monotonic() - started)
            built[name] = (variant, model)
            per_sample[name] = per_sample_scores(reference, outputs_of(model, held))
            done.append(name)
            report(f"int8 {stage}", index + 1, len(variants))
        return done

    screened = build(quant_variants(base, edit), "calibration")
    if not screened:
        return Int8Result([], "", None, None, {}, notes, {})
    calibrations = [n for n in screened if n != "int8-no-depthwise"] or screened
    best = max(calibrations, key=lambda n: float(np.mean(per_sample[n])))
    notes.append(_chosen("calibration", best, calibrations, per_sample))
    refined = build(refinements(best, built[best][0]), "settings")
    if refined:
        winner = choose(per_sample, best, refined)
        if winner != best:
            notes.append(_chosen("INT8 settings", winner, [best, *refined], per_sample))
        best = winner
    if float(np.mean(per_sample[best])) < goal.min_fidelity:  # INT8 everywhere misses: one op family at a time
        partial = build(op_type_variants(base, best, built[best][0]), "op types")
        if partial:
            notes.append(
                f"INT8 of one op family, the others left in float, on {len(held)} held-out inputs: "
                f"{_scores_text([best, *partial], per_sample)}"
            )
    scores = named_scores(per_sample)
    specs: list[Spec] = [(name, [variant], {"quantized": True}) for name, (variant, _) in built.items()]
    if scores[best] < goal.min_fidelity and goal.mixed_precision and not clock.spent(SHARE + 0.1):
        try:
            specs += _mixed(base, built[best], best, reference, inputs, goal, clock, report, notes)
        except Exception as exc:  # a search step that fails leaves the others standing
            logger.warning("mixed precision failed: %s", exc)
            notes.append(f"mixed precision skipped: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    chosen = combined_variant(built, scores, held[0], goal.backend, threads, goal.min_fidelity)
    models = {n: m for n, (_, m) in built.items()}
    return Int8Result(specs, chosen, built[chosen][0], built[chosen][1], scores, notes, models)


def _chosen(what: str, name: str, names: list[str], per_sample: dict[str, np.ndarray]) -> str:
    n = len(per_sample[name])
    return f"{what}: {name} chosen on {n} held-out inputs ({_scores_text(names, per_sample)})"


def _scores_text(names: list[str], per_sample: dict[str, np.ndarray]) -> str:
    """``name mean ± standard error`` for each variant."""
    parts = []
    for other in names:
        values = per_sample[other]
        se = float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
        parts.append(f"{other} {np.mean(values):.4f} ± {se:.4f}")
    return "; ".join(parts)


def _mixed(
    base: ir.Model,
    best: tuple[QuantizeInt8, ir.Model],
    name: str,
    reference: Outputs,
    inputs: Inputs,
    goal: Goal,
    clock: Clock,
    report: Progress,
    notes: list[str],
) -> list[Spec]:
    """Candidates keeping the most sensitive layers in float, up to the set that reaches the floor."""
    edit, qdq = best
    report("mixed precision", 0, 3)
    proxy = sensitivity_proxy(base, qdq, inputs.calib[:2])
    if not proxy:
        notes.append("mixed precision: the INT8 model could not be traced; no layer kept in float")
        return []
    top = sorted(proxy, key=lambda n: -proxy[n])[:CHECKED]
    report("mixed precision", 1, 3)
    checked = leave_one_out(qdq, top, reference, inputs.held, stop=lambda: clock.spent(SHARE + 0.15))
    ranked = [n for n in ranked_layers(proxy, checked) if n in {node.name for node in base.graph}]
    report("mixed precision", 2, 3)
    sets = search_float_set(qdq, ranked, reference, inputs.held, goal.min_fidelity, stop=lambda: clock.spent(0.5))
    report("mixed precision", 3, 3)
    if not sets:
        return []
    agreement = _agreement(proxy, checked)
    reached = [s for s in sets if s.score >= goal.min_fidelity]
    summary = ", ".join(f"{len(s.names)} layer(s) {s.score:.4f}" for s in sets)
    notes.append(
        f"mixed precision from {name}: layers kept in float -> held-out score: {summary}"
        + ("" if reached else f" (none reached {goal.min_fidelity:g})")
        + agreement
    )
    specs: list[Spec] = []
    for float_set in sets[-2:]:
        variant = dataclasses.replace(edit, exclude=tuple(sorted(set(edit.exclude) | set(float_set.names))))
        meta: dict[str, Any] = {"quantized": True, "kept_float": float_set.names}
        specs.append((f"{name}-mixed{len(float_set.names)}", [variant], meta))
    return specs


def _agreement(proxy: dict[str, float], checked: dict[str, float]) -> str:
    """How well the proxy ranked the layers checked exactly (Spearman correlation)."""
    if len(checked) < 3:
        return ""
    names = list(checked)
    a = np.argsort(np.argsort([-proxy[n] for n in names]))
    b = np.argsort(np.argsort([-checked[n] for n in names]))
    rho = float(np.corrcoef(a, b)[0, 1]) if np.std(a) and np.std(b) else float("nan")
    return f"; proxy vs exact leave-one-out rank correlation {rho:.2f} on the top {len(names)}"
