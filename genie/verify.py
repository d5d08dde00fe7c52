"""Checks before a recommendation: the task metric, inputs it was not chosen on, other sizes of dynamic inputs."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import onnx_ir as ir

from genie.budget import Clock
from genie.goal import Candidate, Goal
from genie.inputs import Inputs, compare, outputs_of, size_variants
from modelps.errors import first_line
from modelps.fidelity import score as fidelity_score
from modelps.io import load
from modelps.measured import Outputs

__all__ = ["check_sizes", "confirm", "evaluate_all"]

logger = logging.getLogger(__name__)


def evaluate_all(candidates: Sequence[Candidate], evaluate: object, clock: Clock) -> list[str]:
    """Score every candidate with the task metric (fastest first, while time is left); return notes."""
    assert callable(evaluate)
    notes = []
    skipped = 0
    for cand in sorted(candidates, key=lambda c: -c.speedup if np.isfinite(c.speedup) else 0.0):
        if cand.name != "original" and clock.expired():
            skipped += 1
            continue
        try:
            cand.metric = float(evaluate(cand.details["model_path"]))
        except Exception as exc:  # the user's code: report, do not crash the search
            notes.append(f"task metric failed on {cand.name}: {type(exc).__name__}: {first_line(exc)}")
    if skipped:
        notes.append(f"task metric: {skipped} candidate(s) not evaluated in time (they cannot be recommended)")
    return notes


def check_sizes(base: ir.Model, cand: Candidate, inputs: Inputs) -> tuple[bool, str]:
    """Whether ``cand`` runs at two other sizes of the dynamic inputs with outputs close to the original's.

    Returns:
        Whether it passed, and one line saying what was checked.
    """
    variants = size_variants(inputs)
    if not variants:
        return True, ""
    model = load(cand.details["model_path"])
    results = []
    for label, feeds in variants:
        try:
            got = compare(outputs_of(base, feeds), outputs_of(model, feeds))
        except Exception as exc:  # ONNX Runtime raises its own types
            return False, f"{cand.name} does not run at {label}: {first_line(exc)}"
        score = fidelity_score(got)
        if not np.isfinite(score) or score < cand.score - max(0.02, 4 * cand.score_se):
            return False, f"{cand.name} loses fidelity at {label}: {score:.4f} against {cand.score:.4f}"
        results.append(f"{label}: {score:.4f}")
    return True, f"{cand.name} also checked at other input sizes ({'; '.join(results)})"


def confirm(base: ir.Model, cand: Candidate, inputs: Inputs, goal: Goal, cache: dict[str, Outputs]) -> tuple[bool, str]:
    """Whether ``cand`` still reaches the floor on ``inputs.confirm``, inputs no candidate was chosen on.

    The pick is the best of many estimates on one held-out set, so its estimate is biased upwards
    (the winner's curse); a fresh set is not. ``cache`` keeps the original's outputs between calls.

    Returns:
        Whether it passed (True when there is nothing to confirm on), and one line saying what was measured.
    """
    if not inputs.confirm or goal.evaluate is not None:
        return True, ""
    if "reference" not in cache:
        cache["reference"] = outputs_of(base, inputs.confirm)
    try:
        got = compare(cache["reference"], outputs_of(load(cand.details["model_path"]), inputs.confirm))
    except Exception as exc:  # ONNX Runtime raises its own types
        return False, f"{cand.name} fails on the confirmation inputs: {first_line(exc)}"
    score = fidelity_score(got)
    cand.details["confirmed_fidelity"] = score
    told = f"{score:.4f} on {len(inputs.confirm)} inputs it was not chosen on (chosen at {cand.score:.4f})"
    if not np.isfinite(score) or score < goal.min_fidelity:
        return False, f"{cand.name} is not confirmed: {told} < {goal.min_fidelity:g}; trying the next candidate"
    return True, f"{cand.name} confirmed: {told}"
