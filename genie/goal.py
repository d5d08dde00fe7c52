"""What the user asks the genie for (:class:`Goal`) and what it finds (:class:`Candidate`, :class:`SearchResult`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from modelps.edits import Edit
from modelps.errors import ModelPSError
from modelps.fidelity import score as fidelity_score
from modelps.model import Model
from modelps.recipe import Recipe

__all__ = ["Candidate", "Goal", "Progress", "SearchResult", "Spec"]

Progress = Callable[[str, int, int], None]


Spec = tuple[str, list[Edit], dict[str, Any]]  # a candidate to build: name, edits, metadata


@dataclasses.dataclass
class Goal:
    """What the user asks for, and how hard the genie may look."""

    backend: str = "ort-cpu"
    target_latency_ms: float | None = None
    target_speedup: float | None = None
    min_fidelity: float = 0.99
    """Floor on the centred cosine of the outputs to the original's (on held-out inputs)."""
    max_size_mb: float | None = None
    methods: tuple[str, ...] = ("quantize", "prune")
    calib: str = "samples"
    calib_samples: int = 16
    holdout_samples: int = 32
    """Held-out inputs every fidelity is measured on; a small calibration set is augmented to reach it."""
    shapes: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    """Concrete input shapes to measure at (``--shape``); by default the calibration inputs' shapes."""
    evaluate: Any = None
    """A task metric (:class:`genie.evaluation.Evaluator`): candidates are judged by it instead of cosine."""
    max_metric_drop: float = 0.01
    """With ``evaluate``: the largest drop of the task metric (absolute) a candidate may have."""
    mixed_precision: bool = True
    """Search which layers to keep in float when INT8 everywhere misses the fidelity floor."""
    budget_s: float = 300.0
    threads: int | None = None
    seed: int = 0
    include_residual: bool = True
    levels: tuple[float, ...] = ()
    """Extra speed-up levels (vs the original) to place candidates at, besides the target."""
    finetune_steps: int | None = None
    """Steps of distillation fine-tuning (``prune_channels``'s ``finetune_steps``) for the pruning
    plans that just miss the fidelity floor; ``None`` (the default): 300 when PyTorch is importable
    and the budget allows, else 0; 0: off."""

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
        if self.finetune_steps is not None and self.finetune_steps < 0:
            raise ModelPSError(f"fine-tuning steps must be >= 0, got {self.finetune_steps}")
        if self.budget_s <= 0:
            raise ModelPSError(f"the budget must be positive, got {self.budget_s} s")
        if self.holdout_samples < 2:
            raise ModelPSError(f"fidelity needs at least 2 held-out inputs, got {self.holdout_samples}")


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
    kept_float: tuple[str, ...] = ()
    """Nodes a mixed-precision candidate keeps in float (the most sensitive ones)."""
    metric: float | None = None
    """The task metric (``Goal.evaluate``), when one was given."""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def score(self) -> float:
        """The fidelity used for decisions: centered cosine on held-out inputs (raw cosine below 2 samples)."""
        return fidelity_score(self.fidelity)

    @property
    def score_se(self) -> float:
        """The standard error of :attr:`score` over the held-out inputs (0 when unknown)."""
        return float(self.fidelity.get("centered_cosine_se", 0.0))

    @property
    def score_low(self) -> float:
        """:attr:`score` less one standard error: what the floor is checked against."""
        return self.score - self.score_se

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
            "kept_float": list(self.kept_float),
            "metric": self.metric,
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
    notes: list[str] = dataclasses.field(default_factory=list)
    """What the search did on its own: shapes measured at, inputs added, fine-tuning, early stops."""
    advice: str = ""
    """When nothing met the goal: what would likely reach it (flags, budget), from the numbers measured."""
    cancelled: bool = False
    baseline_metric: float | None = None
    target_met: bool = True
    """False when the recommendation is only the closest to a speed target nothing reached (or nothing is)."""

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
            "notes": self.notes,
            "advice": self.advice,
            "cancelled": self.cancelled,
            "target_met": self.target_met,
            "baseline_metric": self.baseline_metric,
            "goal": {k: v for k, v in dataclasses.asdict(self.goal).items() if k != "evaluate"},
        }

    def build(self, candidate: Candidate, model: Model) -> Model:
        """Apply ``candidate``'s recipe to ``model`` (a fresh load of the searched model)."""
        model.apply_recipe(candidate.recipe)
        return model
