"""The genie's search: NetAdapt-style progressive pruning, combined with INT8, under a latency goal.

Steps (each reported to ``progress(stage, done, total)``):

1. *calibrate*: calibration and held-out inputs; the original's outputs on them.
2. *quantize*: the INT8 variant of the original (static, QDQ, per-channel), if allowed.
3. *profile*: per-layer latency tables of the FP32 (and INT8) model (:mod:`genie.predictor`).
4. *sensitivity*: each prunable channel group pruned alone at a few ratios; the fidelity loss on
   calibration inputs (the most sensitive groups are named in the explanations).
5. *trajectory*: progressive greedy pruning: each step removes one more slice of the group that
   buys the most predicted latency per unit of fidelity loss (NetAdapt's per-step choice, with the
   short-term fine-tune replaced by least-squares reconstruction); checkpoints at predicted
   latency levels around the target become candidates, in FP32 and INT8.
6. *build*: every candidate is built from its recipe through the editing core (validated), its
   fidelity measured on held-out inputs.
7. *measure*: all candidates timed interleaved with the original; the predictor's error reported.

The search yields candidates; it never changes the model it was given. :func:`recommend` picks
one for a goal: never slower than the original, at least ``min_fidelity``, within ``max_size``,
meeting the latency target if any does (otherwise none, with the closest ones named).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir

from genie.measure import Timing, default_threads, measure
from genie.predictor import FractionModel, LayerTable, fractions_for, profile_table
from modelps.compress.calib import load_calibration, source_sha256
from modelps.compress.channels import Analysis, analyze
from modelps.compress.prune import keep_count, prune, select_channels
from modelps.compress.pruning import Elimination, activation_scores, ls_elimination
from modelps.edits import Edit
from modelps.edits.prune_channels import PruneChannels
from modelps.edits.quantize_int8 import QuantizeInt8
from modelps.errors import ModelPSError
from modelps.fidelity import centered_cosine, fidelity
from modelps.fidelity import score as fidelity_score
from modelps.model import Model
from modelps.recipe import Recipe

__all__ = ["Candidate", "Goal", "Progress", "SearchResult", "pareto_front", "recommend", "search"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
LEVELS = (0.25, 0.5, 0.75)
STEP = 0.125
MIN_BUILT = 4
MAX_RATIO = 0.75
SENSITIVITY_SAMPLES = 6
Spec = tuple[str, list[Edit], dict[str, Any]]  # a candidate to build: name, edits, metadata
REFINE_MARGIN = 0.9  # aim refined plans a little inside the fidelity floor (held-out noise)


@dataclasses.dataclass
class Goal:
    """What the user asks for, and how hard the genie may look."""

    backend: str = "ort-cpu"
    target_latency_ms: float | None = None
    target_speedup: float | None = None
    min_fidelity: float = 0.99
    max_size_mb: float | None = None
    methods: tuple[str, ...] = ("quantize", "prune")
    calib: str = "samples"
    calib_samples: int = 16
    holdout_samples: int = 8
    budget_s: float = 300.0
    threads: int | None = None
    seed: int = 0
    include_residual: bool = True
    levels: tuple[float, ...] = ()
    """Extra speed-up levels (vs the original) to place candidates at, besides the target."""
    finetune_steps: int = 0
    """When > 0 (needs PyTorch), the plans that just miss the fidelity floor are also built with
    that many steps of distillation fine-tuning after pruning (``prune_channels``'s
    ``finetune_steps``), one per precision (and the target-level plans when a target is set)."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.methods) - {"quantize", "prune"})
        if unknown:
            raise ModelPSError(f"unknown method(s) {unknown}; choose from quantize, prune")
        if self.target_latency_ms is not None and self.target_speedup is not None:
            raise ModelPSError("give a target latency or a target speed-up, not both")
        if self.target_speedup is not None and self.target_speedup <= 0:
            raise ModelPSError(f"target speed-up must be positive, got {self.target_speedup}")
        if self.target_latency_ms is not None and self.target_latency_ms <= 0:
            raise ModelPSError(f"target latency must be positive, got {self.target_latency_ms}")
        if self.finetune_steps < 0:
            raise ModelPSError(f"fine-tuning steps must be >= 0, got {self.finetune_steps}")


@dataclasses.dataclass
class Candidate:
    """One proposed recipe with its measurements."""

    name: str
    recipe: Recipe
    latency_ms: float = float("nan")
    spread_ms: tuple[float, float] = (float("nan"), float("nan"))
    speedup: float = float("nan")
    fidelity: dict[str, float] = dataclasses.field(default_factory=dict)
    size_bytes: int = 0
    flops: int = 0
    predicted_ms: float | None = None
    pareto: bool = False
    explanation: str = ""
    pruned_fraction: float = 0.0
    quantized: bool = False
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def score(self) -> float:
        """The fidelity used for decisions: centered cosine on held-out inputs (raw cosine below 2 samples)."""
        return fidelity_score(self.fidelity)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``candidates`` entries)."""
        return {
            "name": self.name,
            "recipe": self.recipe.to_dict(),
            "latency_ms": self.latency_ms,
            "latency_spread_ms": list(self.spread_ms),
            "speedup": self.speedup,
            "fidelity": self.fidelity,
            "size_bytes": self.size_bytes,
            "flops": self.flops,
            "predicted_ms": self.predicted_ms,
            "pareto": self.pareto,
            "quantized": self.quantized,
            "pruned_fraction": self.pruned_fraction,
            "explanation": self.explanation,
        }


@dataclasses.dataclass
class SearchResult:
    """Everything the search found; :func:`recommend` can be re-run on it for other goals."""

    goal: Goal
    baseline: Candidate
    candidates: list[Candidate]
    recommended: Candidate | None
    message: str
    closest: list[Candidate]
    predictor_error: dict[str, float]
    search_time_s: float
    sensitivity: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json`` output)."""
        return {
            "baseline": self.baseline.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
            "recommended": self.recommended.to_dict() if self.recommended else None,
            "message": self.message,
            "closest": [c.name for c in self.closest],
            "predictor_error": self.predictor_error,
            "search_time_s": self.search_time_s,
            "goal": dataclasses.asdict(self.goal),
        }

    def build(self, candidate: Candidate, model: Model) -> Model:
        """Apply ``candidate``'s recipe to ``model`` (a fresh load of the searched model)."""
        model.apply_recipe(candidate.recipe)
        return model


class _Clock:
    def __init__(self, budget: float) -> None:
        self.start = time.monotonic()
        self.budget = budget

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.budget - self.elapsed()


def search(model: Model | str | Path, goal: Goal | None = None, progress: Progress | None = None) -> SearchResult:
    """Search for recipes meeting ``goal`` on ``model`` (a :class:`Model` or a file path).

    Raises:
        ModelPSError: The model cannot be loaded or fed, or the goal is malformed.
        BackendUnavailable: The backend cannot run here.
    """
    goal = goal or Goal()
    clock = _Clock(goal.budget_s)
    report = progress or (lambda stage, done, total: None)
    source = model if isinstance(model, Model) else Model.load(model)
    base = source.ir
    base_sha = source.base_sha256 if not source.history else None
    threads = goal.threads or default_threads()

    report("calibrate", 0, 1)
    calib, held = _feeds(base, goal)
    calib_sha = source_sha256(goal.calib)
    reference = _outputs(base, held)
    probe = calib[:SENSITIVITY_SAMPLES]  # INT8's own loss and the pruning sensitivity are measured on these
    probe_reference = _outputs(base, probe)
    report("calibrate", 1, 1)

    quant_edit = QuantizeInt8(
        calib=goal.calib, calib_sha256=calib_sha, calib_samples=goal.calib_samples, seed=goal.seed
    )
    specs: list[Spec] = [("original", [], {})]
    int8_model: ir.Model | None = None
    spent = {"fp32": 0.0}  # fidelity loss each precision costs before any pruning
    bench_feed = held[0]
    if "quantize" in goal.methods:
        variants = _quant_variants(base, quant_edit)
        report("quantize", 0, len(variants))
        built = {}
        for index, (name, edit) in enumerate(variants):
            built[name] = (edit, _build(base, [edit]))
            specs.append((name, [edit], {"quantized": True}))
            report("quantize", index + 1, len(variants))
        chosen = _combined_variant(built, reference, held, bench_feed, goal.backend, threads)
        quant_edit, int8_model = built[chosen]
        spent["int8"] = max(0.0, 1.0 - fidelity_score(fidelity(probe_reference, _outputs(int8_model, probe))))
        fp16 = _fp16_edit(goal.backend)
        if fp16 is not None:
            specs.append(("fp16", [fp16], {}))

    sensitivity: dict[str, dict[str, float]] = {}
    tables: dict[str, LayerTable] = {}
    planner: _Planner | None = None
    floor: list[Spec] = []  # plans near the fidelity floor
    extra: list[Spec] = []  # plans at the extra speed-up levels asked for
    if "prune" in goal.methods:
        analysis = analyze(base)
        groups = [g for g in analysis.prunable if goal.include_residual or not g.residual]
        report("profile", 0, 2)
        tables["fp32"] = profile_table(base, bench_feed, threads=threads)
        if int8_model is not None:
            tables["int8"] = profile_table(int8_model, bench_feed, original=base, threads=threads)
        report("profile", 2, 2)
        early = {"fp32": _build_bytes(base)}
        if int8_model is not None:
            early["int8"] = _build_bytes(int8_model)
        timed = measure(early, bench_feed, baseline="fp32", backend=goal.backend, threads=threads, rounds=3, iters=5)
        for precision, table in tables.items():
            table.calibrate(timed[precision].median_ms)
        if groups:
            scores = activation_scores(base, analysis, groups, calib)
            sensitivity = _sensitivity(base, analysis, groups, scores, probe, probe_reference, clock, report)
            elimination = ls_elimination(base, analysis, groups, calib[: min(len(calib), 16)])
            sensitivity = _with_reconstruction(sensitivity, elimination, analysis)
            planner = _Planner(
                base, analysis, groups, scores, sensitivity, tables, goal, calib_sha, quant_edit if int8_model else None
            )
            for precision in sorted(tables, key=lambda p: p != "int8"):  # INT8 combinations first
                table = tables[precision]
                at_target = planner.specs(precision, _levels(goal, planner.fp32_ms, table, extra=False), [])
                for _, _, meta in at_target:
                    meta["target_level"] = goal.target_speedup is not None or goal.target_latency_ms is not None
                specs += at_target
                floor += planner.specs(precision, [], _loss_levels(goal, spent.get(precision, 0.0)))
                extra += planner.specs(precision, _levels(goal, planner.fp32_ms, table, extra=True), [])

    def build(more: list[Spec], always: int = MIN_BUILT) -> list[Candidate]:
        return _build_candidates(base, base_sha, more, held, reference, clock, report, always=always)

    candidates = build(_distinct(specs + floor))
    if planner is not None and clock.left() > 0:  # closed loop: aim new plans at the floor from measured ones
        refined = [
            spec
            for precision in sorted(tables, key=lambda p: p != "int8")
            for spec in planner.specs(precision, [], _refined_losses(candidates, precision, goal, spent), "fit")
        ]
        candidates += build(_distinct(refined, candidates), always=0)
    candidates += build(_distinct(extra, candidates), always=0)
    if goal.finetune_steps and planner is not None:
        candidates += build(_distinct(_finetuned(candidates, goal), candidates), always=0)
    _measure_all(candidates, goal, bench_feed, threads, report)
    baseline = candidates[0]
    _predict(candidates, base, tables, baseline, int8_name=next((n for n, e, _ in specs if e == [quant_edit]), "int8"))
    predictor_error = _predictor_error(candidates)
    others = candidates[1:]
    for cand in others:
        cand.explanation = explain(cand, baseline, sensitivity, tables)
    mark_pareto(others)
    recommended, message, closest = recommend(others, baseline, goal)
    return SearchResult(
        goal=goal,
        baseline=baseline,
        candidates=others,
        recommended=recommended,
        message=message,
        closest=closest,
        predictor_error=predictor_error,
        search_time_s=clock.elapsed(),
        sensitivity=sensitivity,
    )


def _quant_variants(base: ir.Model, edit: QuantizeInt8) -> list[tuple[str, QuantizeInt8]]:
    """INT8 variants: every layer (MinMax and Percentile calibration), and without depthwise convs.

    Percentile calibration clips activation outliers (centered cosine 0.9934 -> 0.9944 on the
    zoo's demo fedreid-resnet50 here; 0.785 -> 0.852 on weakly trained weights).

    ORT's CPU INT8 depthwise kernels are slow: on MobileFaceNet, INT8 everywhere ran 0.4x of FP32
    here while INT8 without the depthwise convolutions ran 1.2x.
    """
    variants = [("int8", edit), ("int8-percentile", dataclasses.replace(edit, method="percentile"))]
    depthwise = tuple(
        node.name
        for node in base.graph
        if node.op_type == "Conv" and node.name and "group" in node.attributes and node.attributes["group"].as_int() > 1
    )
    if depthwise:
        variants.append(("int8-no-depthwise", dataclasses.replace(edit, exclude=depthwise)))
    return variants


def _combined_variant(
    built: Mapping[str, tuple[QuantizeInt8, ir.Model]],
    reference: np.ndarray,
    held: Sequence[Mapping[str, np.ndarray]],
    feed: Mapping[str, np.ndarray],
    backend: str,
    threads: int,
) -> str:
    """The INT8 variant to combine with pruning: the most faithful within 5% of the fastest.

    Variants that quantize the same layers run the same kernels (only their scales differ), so
    only one of each is timed: a short timing run cannot tell them apart, and would pick by noise.
    """
    kernels = {name: dataclasses.replace(edit, method="minmax") for name, (edit, _) in built.items()}
    graphs = {kernel: name for name, kernel in reversed(kernels.items())}  # the first name per kernel set
    if len(graphs) > 1:
        timed = measure(
            {name: _build_bytes(built[name][1]) for name in graphs.values()},
            feed, baseline=next(iter(built)), backend=backend, threads=threads, rounds=3, iters=5,
        )  # fmt: skip
        ms = {name: timed[graphs[kernel]].median_ms for name, kernel in kernels.items()}
    else:
        ms = dict.fromkeys(built, 1.0)
    close = [name for name in built if ms[name] <= 1.05 * min(ms.values())]
    scores = {name: fidelity_score(fidelity(reference, _outputs(built[name][1], held))) for name in close}
    return max(close, key=lambda name: scores[name])


def _fp16_edit(backend: str) -> Edit | None:
    """A ``to_fp16`` edit for GPU backends (never for the CPU: no speed-up there), if the core has it."""
    if backend == "ort-cpu":
        return None
    from modelps.edits import edit_from_dict
    from modelps.errors import UnknownEditError

    try:
        return edit_from_dict({"op": "to_fp16"})
    except UnknownEditError:
        return None


# -- inputs and outputs -------------------------------------------------------------------------
def _feeds(model: ir.Model, goal: Goal) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    if goal.calib in ("samples", "random"):
        calib = load_calibration(model, goal.calib, count=goal.calib_samples, seed=goal.seed)
        held = load_calibration(model, goal.calib, count=goal.holdout_samples, seed=goal.seed + 1000)
        return calib, held
    feeds = load_calibration(model, goal.calib, count=goal.calib_samples + goal.holdout_samples, seed=goal.seed)
    if len(feeds) < 2:
        return feeds, feeds
    cut = min(goal.calib_samples, len(feeds) - max(1, len(feeds) // 4))
    return feeds[:cut], feeds[cut:]


def _outputs(model: ir.Model, feeds: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
    from modelps.runtime import session_for

    session = session_for(model)
    name = session.get_outputs()[0].name
    return np.concatenate([session.run([name], dict(f))[0] for f in feeds], axis=0)


def _build_bytes(model: ir.Model) -> bytes:
    from modelps.io import model_bytes

    return model_bytes(model)


def _build(base: ir.Model, edits: Sequence[Edit]) -> ir.Model:
    model = Model(base.clone(), validation="structure")
    for edit in edits:
        model.apply(edit)
    return model.ir


# -- sensitivity and trajectory --------------------------------------------------------------
def _keep_for(
    analysis: Analysis, scores: Mapping[str, np.ndarray], ratios: Mapping[str, float]
) -> dict[str, np.ndarray]:
    keep = {}
    for name, ratio in ratios.items():
        group = analysis.group(name)
        keep[name] = select_channels(scores[name], keep_count(group.size, ratio, 8))
    return keep


def _sensitivity(
    base: ir.Model,
    analysis: Analysis,
    groups: Sequence[Any],
    scores: Mapping[str, np.ndarray],
    feeds: Sequence[Mapping[str, np.ndarray]],
    reference: np.ndarray,
    clock: _Clock,
    report: Progress,
) -> dict[str, dict[str, float]]:
    """Fidelity loss of each group pruned alone: 1 - centered cosine to ``reference`` on ``feeds``."""
    table: dict[str, dict[str, float]] = {}
    total = len(groups) * len(LEVELS)
    done = 0
    deadline = clock.budget * 0.35
    for level in (0.5, 0.25, 0.75):
        for group in groups:
            if clock.elapsed() > deadline and level != 0.5:
                done += 1
                continue
            pruned = prune(base, _keep_for(analysis, scores, {group.name: level}), analysis, refresh=False)
            loss = max(0.0, 1.0 - centered_cosine(reference, _outputs(pruned, feeds)))
            table.setdefault(group.name, {})[str(level)] = loss
            done += 1
            report("sensitivity", done, total)
    return table


def _with_reconstruction(
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


def _loss(sens: Mapping[str, float], ratio: float) -> float:
    """Interpolated loss at ``ratio`` from the measured levels (0 at ratio 0, extrapolated above)."""
    xs = [0.0] + [float(k) for k in sorted(sens, key=float)]
    ys = [0.0] + [sens[k] for k in sorted(sens, key=float)]
    if ratio <= xs[-1]:
        return float(np.interp(ratio, xs, ys))
    slope = (ys[-1] - ys[-2]) / max(xs[-1] - xs[-2], 1e-9)
    return ys[-1] + max(slope, 0.0) * (ratio - xs[-1]) * 2.0


def _loss_levels(goal: Goal, spent: float) -> tuple[float, ...]:
    """Pruning-loss budgets at which to place candidates near the fidelity floor.

    ``spent`` is what the precision already costs (INT8's own loss), so INT8 + pruning plans stop
    where their sum reaches the floor. Sensitivities come from plain pruning and overstate the loss
    after reconstruction, hence a plan at three times the budget as well.
    """
    left = max(1.0 - goal.min_fidelity, 1e-4) - spent
    return tuple(round(left * f, 5) for f in (0.5, 1.0, 3.0)) if left > 0 else ()


def _levels(goal: Goal, fp32_ms: float, table: LayerTable, *, extra: bool = False) -> list[float]:
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


def _distinct(specs: Sequence[Spec], built: Sequence[Candidate] = ()) -> list[Spec]:
    """Drop specs whose recipe repeats an earlier spec's or an already built candidate's."""
    seen = {repr([e.to_dict() for e in c.recipe.edits]) for c in built}
    out = []
    for spec in specs:
        key = repr([e.to_dict() for e in spec[1]])
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return out


class _Planner:
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
    ) -> None:
        self.base, self.analysis, self.groups, self.scores = base, analysis, groups, scores
        self.sensitivity, self.tables, self.goal = sensitivity, tables, goal
        self.calib_sha, self.quant_edit = calib_sha, quant_edit
        self.fp32_ms = tables["fp32"].total_ms

    def specs(
        self, precision: str, levels: Sequence[float], loss_levels: Sequence[float], tag: str = "loss"
    ) -> list[Spec]:
        """One candidate spec per distinct plan of :func:`_trajectory` for this precision."""
        plans = _trajectory(
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
                    reconstruct=self.goal.calib,
                    calib_sha256=self.calib_sha,
                    calib_samples=self.goal.calib_samples,
                    seed=self.goal.seed,
                )
            ]
            meta: dict[str, Any] = {"ratios": ratios, "level": label, "planned_loss": planned}
            if precision == "int8" and self.quant_edit is not None:
                edits.append(self.quant_edit)
                meta["quantized"] = True
            out.append((f"{precision}-prune-{label}", edits, meta))
        return out


def _refined_losses(
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


def _trajectory(
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
            cost = _loss(sensitivity[name], nxt) - _loss(sensitivity[name], ratios[name])
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


# -- building, measuring, recommending ------------------------------------------------------
def _finetuned(candidates: Sequence[Candidate], goal: Goal) -> list[Spec]:
    """Fine-tuned versions of the pruning plans that missed the fidelity floor by the least.

    Per precision: the plan with the smallest planned loss among those below the floor; with a
    target, also the (two least lossy) target-level plans below it of the fastest precision (INT8
    when there is one: the one that needs the least pruning to get there). Each plan's fine-tuned
    FP32 model comes first, so that its INT8 version reuses it.
    """
    chosen: list[Candidate] = []
    fastest = any(c.quantized for c in candidates)
    for quantized in (True, False):
        missed = [
            c for c in candidates
            if c.quantized == quantized and c.details.get("ratios") and not c.score >= goal.min_fidelity
        ]  # fmt: skip
        missed.sort(key=lambda c: c.details.get("planned_loss", 0.0))
        chosen += missed[:1]
        if quantized == fastest:
            chosen += [c for c in missed[1:] if c.details.get("target_level")][:2]
    specs: list[Spec] = []
    for cand in chosen:
        prune_edit = dataclasses.replace(cand.recipe.edits[0], finetune_steps=goal.finetune_steps)
        meta = {k: v for k, v in cand.details.items() if k != "model_bytes"}
        fp32_meta = {**meta, "quantized": False}
        specs.append((f"fp32-prune-{meta['level']}-ft", [prune_edit], fp32_meta))
        if cand.quantized:
            specs.append((f"{cand.name}-ft", [prune_edit, *cand.recipe.edits[1:]], meta))
    taken = {c.name for c in candidates}
    for index, (name, edits, meta) in enumerate(specs):
        while name in taken:
            name += "'"
        taken.add(name)
        specs[index] = (name, edits, meta)
    return specs


def _build_candidates(
    base: ir.Model,
    base_sha: str | None,
    specs: Sequence[Spec],
    held: Sequence[Mapping[str, np.ndarray]],
    reference: np.ndarray,
    clock: _Clock,
    report: Progress,
    always: int = MIN_BUILT,
) -> list[Candidate]:
    from modelps.io import model_bytes

    candidates = []
    cache: dict[str, ir.Model] = {}
    for index, (name, edits, meta) in enumerate(specs):
        if index >= always and clock.left() < 0:  # a few candidates are always built, even late
            logger.info("budget spent: %d candidate(s) not built", len(specs) - index)
            break
        try:
            prefix_key = repr([e.to_dict() for e in edits[:1]])
            if len(edits) == 2 and prefix_key in cache:
                model = _build(cache[prefix_key], edits[1:])
            else:
                model = _build(base, edits)
            if len(edits) == 1:
                cache[repr([e.to_dict() for e in edits])] = model
        except ModelPSError as exc:
            logger.warning("candidate %s failed: %s", name, exc)
            continue
        data = model_bytes(model)
        cand = Candidate(name=name, recipe=Recipe(tuple(edits), base_sha), size_bytes=len(data))
        cand.quantized = bool(meta.get("quantized"))
        cand.details = {"model_bytes": data, **meta}
        cand.flops = count_flops(model)
        cand.fidelity = fidelity(reference, _outputs(model, held)) if edits else fidelity(reference, reference)
        ratios = meta.get("ratios") or {}
        cand.pruned_fraction = _pruned_fraction(base, ratios)
        candidates.append(cand)
        report("build", index + 1, len(specs))
    return candidates


def _measure_all(
    candidates: Sequence[Candidate], goal: Goal, feed: Mapping[str, np.ndarray], threads: int, report: Progress
) -> None:
    models = {c.name: c.details["model_bytes"] for c in candidates}
    rounds = 7 if len(models) <= 8 else 5
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
    )
    for cand in candidates:
        t = timings[cand.name]
        cand.latency_ms = t.median_ms
        cand.spread_ms = (t.p10_ms, t.p90_ms)
        cand.speedup = t.speedup
        cand.details["speedup_spread"] = t.speedup_spread
        cand.details.pop("model_bytes", None)


def _predict(
    candidates: Sequence[Candidate],
    base: ir.Model,
    tables: Mapping[str, LayerTable],
    baseline: Candidate,
    int8_name: str = "int8",
) -> None:
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


def _predictor_error(candidates: Sequence[Candidate]) -> dict[str, float]:
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


def _pruned_fraction(base: ir.Model, ratios: Mapping[str, float]) -> float:
    if not ratios:
        return 0.0
    analysis = analyze(base)
    total = sum(g.size for g in analysis.prunable)
    removed = sum(analysis.group(n).size - keep_count(analysis.group(n).size, r, 8) for n, r in ratios.items())
    return removed / total if total else 0.0


def count_flops(model: ir.Model) -> int:
    """Multiply-accumulate FLOPs (2 per MAC) of Conv, Gemm and MatMul nodes, QDQ weights included."""
    from modelps.compress.channels import inferred_types

    shapes = inferred_types(model)
    producers = {v.name: n for n in model.graph for v in n.outputs}

    def weight_shape(value: ir.Value | None) -> tuple[int, ...] | None:
        if value is None:
            return None
        if value.const_value is not None:
            return tuple(value.const_value.shape.numpy())
        node = producers.get(value.name)
        if node is not None and node.op_type == "DequantizeLinear":
            return weight_shape(node.inputs[0])
        found = shapes.get(value.name or "")
        return tuple(int(d) for d in found[1]) if found and all(isinstance(d, int) for d in found[1]) else None

    total = 0
    for node in model.graph:
        if node.op_type not in ("Conv", "Gemm", "MatMul", "ConvTranspose"):
            continue
        w = weight_shape(node.inputs[1])
        out = shapes.get(node.outputs[0].name or "", (None, ()))[1]
        if w is None or not out or not all(isinstance(d, int) for d in out):
            continue
        out_elems = int(np.prod(out))
        if node.op_type == "Conv":
            total += 2 * out_elems * int(np.prod(w[1:]))
        elif node.op_type == "ConvTranspose":
            total += 2 * int(np.prod(w)) * int(np.prod(out[2:]))
        else:
            k = (
                w[0]
                if node.op_type == "MatMul"
                or not (node.attributes.get("transB") and node.attributes["transB"].as_int())
                else w[1]
            )
            total += 2 * out_elems * int(k)
    return total


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


def recommend(
    candidates: Sequence[Candidate], baseline: Candidate, goal: Goal
) -> tuple[Candidate | None, str, list[Candidate]]:
    """Pick the candidate to recommend for ``goal``; return it, a message, and the closest others.

    Rules: a candidate is *eligible* when it is measured at least as fast as the original
    (speed-up >= 1), reaches ``min_fidelity`` and fits ``max_size_mb``. With a target, the
    most faithful eligible candidate meeting it is recommended (ties: the faster); if none meets
    it, nothing is recommended and the fastest eligible candidates are named as the closest.
    Without a target, the fastest eligible candidate is recommended.
    """
    eligible = [
        c
        for c in candidates
        if np.isfinite(c.speedup)
        and c.speedup >= 1.0
        and c.score >= goal.min_fidelity
        and (goal.max_size_mb is None or c.size_bytes <= goal.max_size_mb * 1e6)
    ]
    target_ms = goal.target_latency_ms
    if target_ms is None and goal.target_speedup is not None:
        target_ms = baseline.latency_ms / goal.target_speedup
    if not eligible:
        faster = sorted((c for c in candidates if c.speedup >= 1.0), key=lambda c: -c.score)[:3]
        return (
            None,
            (
                f"no candidate is at least as fast as the original with fidelity >= {goal.min_fidelity:g}"
                + (f" and size <= {goal.max_size_mb:g} MB" if goal.max_size_mb else "")
                + "; the closest are listed"
            ),
            faster,
        )
    if target_ms is None:
        best = max(eligible, key=lambda c: (c.speedup, c.score))
        return best, f"fastest candidate with fidelity >= {goal.min_fidelity:g}: {best.name}", []
    meeting = [c for c in eligible if _meets(c, baseline, goal, target_ms)]
    if meeting:
        best = max(meeting, key=lambda c: (round(c.score, 4), c.speedup))
        return best, f"{best.name} meets the target ({best.latency_ms:.2f} ms, {best.speedup:.2f}x)", []
    closest = sorted(eligible, key=lambda c: -c.speedup)[:3]
    need = baseline.latency_ms / target_ms
    return (
        None,
        (
            f"the target ({target_ms:.2f} ms, {need:.2f}x) cannot be met at fidelity >= {goal.min_fidelity:g}; "
            f"the closest is {closest[0].name} at {closest[0].speedup:.2f}x ({closest[0].latency_ms:.2f} ms)"
        ),
        closest,
    )


def _meets(cand: Candidate, baseline: Candidate, goal: Goal, target_ms: float) -> bool:
    if goal.target_speedup is not None:
        return cand.speedup >= goal.target_speedup
    return cand.latency_ms <= target_ms or cand.speedup >= baseline.latency_ms / target_ms


def explain(
    cand: Candidate,
    baseline: Candidate,
    sensitivity: Mapping[str, Mapping[str, float]],
    tables: Mapping[str, LayerTable],
) -> str:
    """One or two sentences: what changed, what it bought, where the time went, what was sensitive."""
    parts = []
    ratios: Mapping[str, float] = cand.details.get("ratios") or {}
    if ratios:
        top = sorted(ratios.items(), key=lambda kv: -kv[1])[:3]
        cuts = ", ".join(f"{name} {ratio:.0%}" for name, ratio in top)
        parts.append(
            f"prunes {cand.pruned_fraction:.0%} of prunable channels in {len(ratios)} groups (largest cuts: {cuts})"
        )
        steps = getattr(cand.recipe.edits[0], "finetune_steps", 0) if cand.recipe.edits else 0
        if steps:
            parts.append(f"fine-tunes the pruned weights for {steps} steps to reproduce the original")
    if cand.quantized:
        parts.append("quantizes to INT8 (QDQ, per-channel weights, U8 activations)")
    what = " and ".join(parts) or "leaves the model unchanged"
    first = (
        f"{what[0].upper()}{what[1:]}: measured {cand.speedup:.2f}x ({cand.latency_ms:.2f} ms vs "
        f"{baseline.latency_ms:.2f} ms), centered cosine {cand.score:.4f} on held-out inputs."
    )
    second = []
    table = tables.get("fp32")
    if table is not None and table.node_ms:
        total = sum(table.node_ms.values()) + table.other_ms
        top_layer, ms = max(table.node_ms.items(), key=lambda kv: kv[1])
        second.append(f"the slowest layer was {top_layer} ({ms / total:.0%} of the time)")
    if sensitivity:
        worst = sorted(sensitivity, key=lambda n: -max(sensitivity[n].values()))[:2]
        kept = [n for n in worst if ratios.get(n, 0) < 0.25]
        if kept:
            second.append(f"the most sensitive groups ({', '.join(kept)}) were left mostly intact")
    return first + (" " + "; ".join(second).capitalize() + "." if second else "")
