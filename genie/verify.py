"""Checks before a recommendation: the task metric, and inputs of other sizes for dynamic models."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import onnx_ir as ir

from genie.budget import Clock
from genie.goal import Candidate
from genie.inputs import Inputs, compare, outputs_of, size_variants
from modelps.errors import first_line
from modelps.fidelity import score as fidelity_score
from modelps.io import load

__all__ = ["check_sizes", "evaluate_all"]

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
