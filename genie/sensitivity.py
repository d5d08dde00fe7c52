"""How much fidelity each channel group costs when pruned alone (the planner's loss model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx_ir as ir

from genie.budget import Clock
from genie.goal import Progress
from genie.inputs import outputs_of
from modelps.compress.channels import Analysis
from modelps.compress.prune import keep_count, prune, select_channels
from modelps.compress.pruning import Elimination
from modelps.fidelity import per_sample_scores
from modelps.measured import Outputs

__all__ = [
    "LEVELS",
    "SENSITIVITY_SAMPLES",
    "interpolated_loss",
    "keep_for",
    "pruning_sensitivity",
    "with_reconstruction",
]

LEVELS = (0.25, 0.5, 0.75)


SENSITIVITY_SAMPLES = 6


def keep_for(
    analysis: Analysis, scores: Mapping[str, np.ndarray], ratios: Mapping[str, float]
) -> dict[str, np.ndarray]:
    """The channels each group keeps at its ratio (highest scores first, kept counts multiples of 8)."""
    keep = {}
    for name, ratio in ratios.items():
        group = analysis.group(name)
        keep[name] = select_channels(scores[name], keep_count(group.size, ratio, 8))
    return keep


def pruning_sensitivity(
    base: ir.Model,
    analysis: Analysis,
    groups: Sequence[Any],
    scores: Mapping[str, np.ndarray],
    feeds: Sequence[Mapping[str, np.ndarray]],
    reference: Outputs,
    clock: Clock,
    report: Progress,
    share: float = 0.55,
) -> dict[str, dict[str, float]]:
    """Fidelity loss of each group pruned alone: 1 - centered cosine to ``reference`` on ``feeds``.

    Every group is measured at half its channels first, then at a quarter and three quarters; the
    extra levels stop at ``share - 0.05`` of the budget, the first at ``share`` (groups not
    measured by then are left out of the plans).
    """
    table: dict[str, dict[str, float]] = {}
    total = len(groups) * len(LEVELS)
    done = 0
    for level in (0.5, 0.25, 0.75):
        for group in groups:
            if clock.spent(share if level == 0.5 else share - 0.05):
                done += 1
                continue
            pruned = prune(base, keep_for(analysis, scores, {group.name: level}), analysis, refresh=False)
            loss = max(0.0, 1.0 - float(np.mean(per_sample_scores(reference, outputs_of(pruned, feeds)))))
            table.setdefault(group.name, {})[str(level)] = loss
            done += 1
            report("sensitivity", done, total)
    return table


def with_reconstruction(
    sensitivity: Mapping[str, Mapping[str, float]], elimination: Mapping[str, Elimination], analysis: Analysis
) -> dict[str, dict[str, float]]:
    """Scale each measured plain-pruning loss by how much a least-squares re-fit shrinks the error.

    The factor is the consumers' output error after ``ls`` elimination and re-fit over the error of
    dropping the same number of lowest-energy channels plainly (both on calibration data); capped
    at 1. Groups without an elimination keep their plain loss.
    """
    out: dict[str, dict[str, float]] = {}
    for name, losses in sensitivity.items():
        elim = elimination.get(name)
        size = analysis.group(name).size
        out[name] = {}
        for level, loss in losses.items():
            removed = size - keep_count(size, float(level), 8)
            factor = 1.0 if elim is None else min(1.0, elim.reconstruction_factor(removed))
            out[name][level] = loss * factor
    return out


def interpolated_loss(sens: Mapping[str, float], ratio: float) -> float:
    """Interpolated loss at ``ratio`` from the measured levels (0 at ratio 0, extrapolated above)."""
    xs = [0.0] + [float(k) for k in sorted(sens, key=float)]
    ys = [0.0] + [sens[k] for k in sorted(sens, key=float)]
    if ratio <= xs[-1]:
        return float(np.interp(ratio, xs, ys))
    slope = (ys[-1] - ys[-2]) / max(xs[-1] - xs[-2], 1e-9)
    return ys[-1] + max(slope, 0.0) * (ratio - xs[-1]) * 2.0
