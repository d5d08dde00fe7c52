"""The search's pruning step: latency tables, per-group sensitivity, and the plans placed from them."""

from __future__ import annotations

import dataclasses
import logging

import onnx_ir as ir

from genie.budget import Clock
from genie.goal import Goal, Progress, Spec
from genie.inputs import Inputs, model_bytes
from genie.measure import measure
from genie.planning import Planner, loss_levels, speed_levels
from genie.predictor import LayerTable, profile_table
from genie.sensitivity import SENSITIVITY_SAMPLES, pruning_sensitivity, with_reconstruction
from modelps.compress.channels import analyze
from modelps.compress.pruning import activation_scores, ls_elimination
from modelps.edits import Edit
from modelps.measured import Outputs

__all__ = ["PruneResult", "prune_step"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class PruneResult:
    """Pruning plans and what they were planned from."""

    tables: dict[str, LayerTable]
    sensitivity: dict[str, dict[str, float]]
    planner: Planner | None
    at_target: list[Spec]
    floor: list[Spec]
    extra: list[Spec]
    notes: list[str]


def prune_step(
    base: ir.Model,
    inputs: Inputs,
    probe_reference: Outputs,
    int8: tuple[Edit, ir.Model] | None,
    spent: dict[str, float],
    goal: Goal,
    calib_sha: str | None,
    clock: Clock,
    report: Progress,
    threads: int,
) -> PruneResult:
    """Profile, measure sensitivities and place pruning plans (FP32 and, with ``int8``, INT8 + pruning)."""
    notes: list[str] = []
    result = PruneResult({}, {}, None, [], [], [], notes)
    analysis = analyze(base)
    groups = [g for g in analysis.prunable if goal.include_residual or not g.residual]
    if not groups:
        notes.append("pruning: the model has no prunable channel group")
        return result
    feed = inputs.held[0]
    report("profile", 0, 2)
    result.tables["fp32"] = profile_table(base, feed, threads=threads)
    if int8 is not None:
        result.tables["int8"] = profile_table(int8[1], feed, original=base, threads=threads)
    report("profile", 2, 2)
    early = {"fp32": model_bytes(base)}
    if int8 is not None:
        early["int8"] = model_bytes(int8[1])
    timed = measure(early, feed, baseline="fp32", backend=goal.backend, threads=threads, rounds=3, iters=5)
    for precision, table in result.tables.items():
        table.calibrate(timed[precision].median_ms)
    calib = inputs.calib
    probe = calib[:SENSITIVITY_SAMPLES]
    scores = activation_scores(base, analysis, groups, calib)
    sensitivity = pruning_sensitivity(base, analysis, groups, scores, probe, probe_reference, clock, report)
    if len(sensitivity) < len(groups):
        notes.append(f"pruning: {len(groups) - len(sensitivity)} of {len(groups)} groups not measured in time")
    if not sensitivity:
        return result
    elimination = ls_elimination(base, analysis, groups, calib[: min(len(calib), 16)])
    result.sensitivity = with_reconstruction(sensitivity, elimination, analysis)
    planner = Planner(
        base, analysis, groups, scores, result.sensitivity, result.tables, goal, calib_sha,
        int8[0] if int8 is not None else None, inputs.source, inputs.input_shapes, inputs.refit_samples,
    )  # fmt: skip
    result.planner = planner
    if planner.refit_samples > len(calib):
        notes.append(
            f"pruned layers re-fit on {planner.refit_samples} inputs of {inputs.source} rather than the "
            f"{len(calib)} calibration inputs: more inputs re-fit them better"
        )
    for precision in sorted(result.tables, key=lambda p: p != "int8"):  # INT8 combinations first
        table = result.tables[precision]
        at_target = planner.specs(precision, speed_levels(goal, planner.fp32_ms, table, extra=False), [])
        for _, _, meta in at_target:
            meta["target_level"] = goal.target_speedup is not None or goal.target_latency_ms is not None
        result.at_target += at_target
        result.floor += planner.specs(precision, [], loss_levels(goal, spent.get(precision, 0.0)))
        result.extra += planner.specs(precision, speed_levels(goal, planner.fp32_ms, table, extra=True), [])
    return result
