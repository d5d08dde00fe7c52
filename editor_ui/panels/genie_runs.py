"""The Genie page's logic: run ``genie.search`` on the open model, tabulate and apply its candidates."""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from editor_ui.actions import Outcome, apply_recipe_text, describe_edit
from editor_ui.workspace import Workspace
from modelps.errors import ModelPSError

logger = logging.getLogger(__name__)

__all__ = [
    "GENIE_STAGES",
    "GenieJob",
    "GenieRequest",
    "apply_candidate",
    "candidate_rows",
    "pareto_flags",
    "pareto_spec",
    "run_genie",
    "stage_fraction",
]


@dataclasses.dataclass(frozen=True)
class GenieRequest:
    """The genie form: backend, a speed-up or latency target, fidelity floor, time budget, methods.

    Advanced: ``calib`` (``"samples"``: bundled photos, or a stored upload's path), how many
    calibration inputs to use, fine-tuning steps (``None``: automatic, 0: off) and mixed precision.
    """

    backend: str
    target_speedup: float | None
    target_latency_ms: float | None
    min_fidelity: float
    budget_s: float
    methods: tuple[str, ...]
    calib: str = "samples"
    calib_samples: int = 16
    finetune_steps: int | None = None
    mixed_precision: bool = True


def pareto_flags(points: list[tuple[float, float]]) -> list[bool]:
    """For (latency, fidelity) points, whether each is on the Pareto front (lower latency, higher fidelity).

    >>> pareto_flags([(1.0, 0.9), (2.0, 0.95), (2.5, 0.94), (0.5, 0.8)])
    [True, True, False, True]
    """
    flags = []
    for i, (lat, fid) in enumerate(points):
        dominated = any(
            (l2 <= lat and f2 >= fid) and (l2 < lat or f2 > fid) for j, (l2, f2) in enumerate(points) if j != i
        )
        flags.append(not dominated)
    return flags


def _fidelity(value: Any) -> float:
    if isinstance(value, dict):
        value = value.get("centered_cosine", float("nan"))
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def candidate_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows for a genie result (its JSON form): one per candidate, with Pareto flags.

    Fidelity is the centered cosine against the original; missing ``pareto`` flags are computed here.
    """
    candidates = list(result.get("candidates") or [])
    recommended = result.get("recommended")
    recommended_name = recommended.get("name") if isinstance(recommended, dict) else None
    rows = []
    for index, cand in enumerate(candidates):
        recipe = cand.get("recipe") or {}
        edits = recipe.get("edits", []) if isinstance(recipe, dict) else list(recipe)
        rows.append(
            {
                "candidate": index,
                "name": str(cand.get("name", f"#{index}")),
                "latency_ms": float(cand.get("latency_ms", float("nan"))),
                "speedup": float(cand.get("speedup", float("nan"))),
                "fidelity": _fidelity(cand.get("fidelity")),
                "size_mb": float(cand.get("size_bytes", 0)) / 1e6,
                "pareto": cand.get("pareto"),
                "recommended": recommended_name is not None and cand.get("name") == recommended_name,
                "edits": "; ".join(describe_edit(e) for e in edits) or "(none)",
                "explanation": str(cand.get("explanation", "")),
            }
        )
    if rows and any(r["pareto"] is None for r in rows):
        for row, flag in zip(rows, pareto_flags([(r["latency_ms"], r["fidelity"]) for r in rows]), strict=True):
            row["pareto"] = flag
    return rows


def pareto_spec(rows: list[dict[str, Any]], baseline_ms: float | None = None) -> dict[str, Any]:
    """Return an ECharts scatter of latency vs fidelity with the Pareto front drawn as a line."""
    front = sorted((r["latency_ms"], r["fidelity"]) for r in rows if r["pareto"])
    others = [[r["latency_ms"], r["fidelity"], r["candidate"]] for r in rows if not r["pareto"]]
    series: list[dict[str, Any]] = [
        {"name": "candidates", "type": "scatter", "symbolSize": 10, "data": others},
        {"name": "Pareto front", "type": "line", "step": False, "symbolSize": 12, "data": [list(p) for p in front]},
    ]
    if baseline_ms:
        series.append(
            {"name": "original", "type": "scatter", "symbol": "diamond", "symbolSize": 14, "data": [[baseline_ms, 1.0]]}
        )
    return {
        "legend": {"top": 0},
        "tooltip": {"trigger": "item"},
        "xAxis": {"type": "value", "name": "latency (ms)", "scale": True},
        "yAxis": {"type": "value", "name": "fidelity", "scale": True},
        "series": series,
    }


GENIE_STAGES = (
    "calibrate",
    "int8",
    "mixed precision",
    "profile",
    "sensitivity",
    "trajectory",
    "build",
    "measure",
    "verify",
)
"""The genie's steps in order (``genie.search``); a stage may carry a detail after its name (``int8 screen``)."""


def stage_fraction(stage: str, done: int, total: int) -> float | None:
    """Overall progress in [0, 1] from the genie's ``(stage, done, total)`` reports (``None``: unknown stage).

    >>> stage_fraction("calibrate", 0, 1), stage_fraction("int8 refine", 1, 2), stage_fraction("verify", 1, 1)
    (0.0, 0.16666666666666666, 1.0)
    """
    index = next((k for k, name in enumerate(GENIE_STAGES) if stage == name or stage.startswith(name + " ")), None)
    if index is None:
        return None
    part = done / total if total else 1.0
    return min(1.0, (index + min(max(part, 0.0), 1.0)) / len(GENIE_STAGES))


def run_genie(
    ws: Workspace,
    request: GenieRequest,
    progress: Callable[[float, str], None],
    *,
    cancel: threading.Event | None = None,
) -> tuple[Outcome, dict[str, Any] | None]:
    """Run the genie's search on the current model; returns the result as its JSON dict.

    Candidates' recipes start from the current revision. ``progress(fraction, text)`` is called as
    the search goes. Setting ``cancel`` stops the search within seconds (``genie.search`` is handed
    the event and returns what it measured so far).
    """
    try:
        from genie import Goal, search
    except ImportError:
        return Outcome(False, "The genie is not installed."), None

    reached = [0.0]

    def report(stage: str, done: int, total: int) -> None:
        fraction = stage_fraction(stage, done, total)
        reached[0] = max(reached[0], fraction if fraction is not None else reached[0])  # never backwards
        progress(reached[0], f"{stage}: {done}/{total}")

    with tempfile.TemporaryDirectory(prefix="modelps-genie-") as tmp:
        with ws.lock:
            path = ws.model.save(Path(tmp, "model.onnx"))
        try:
            goal = Goal(
                backend=request.backend,
                target_speedup=request.target_speedup,
                target_latency_ms=request.target_latency_ms,
                min_fidelity=request.min_fidelity,
                budget_s=request.budget_s,
                methods=request.methods,
                calib=request.calib,
                calib_samples=request.calib_samples,
                finetune_steps=request.finetune_steps,
                mixed_precision=request.mixed_precision,
            )
            result = search(path, goal, progress=report, cancel=cancel)
        except ModelPSError as exc:
            if cancel is not None and cancel.is_set():
                return Outcome(False, "Search cancelled."), None
            return Outcome(False, f"The search failed: {exc}"), None
    progress(1.0, "done")
    data = result.to_dict()
    data["sensitivity"] = {k: dict(v) for k, v in (getattr(result, "sensitivity", None) or {}).items()}
    count = len(data.get("candidates") or [])
    found = f"{count} candidate{'s' if count != 1 else ''}"
    if cancel is not None and cancel.is_set():
        return Outcome(False, f"Search cancelled; {found} measured so far."), data
    return Outcome(True, f"Found {found}."), data


class GenieJob:
    """A search running in a thread, so the page can show progress and an ETA and offer Cancel."""

    def __init__(self, ws: Workspace, request: GenieRequest) -> None:
        self.request = request
        self.cancel_event = threading.Event()
        self.fraction = 0.0
        self.text = "Starting the search…"
        self.started = time.monotonic()
        self.outcome: Outcome | None = None
        self.result: dict[str, Any] | None = None
        self._thread = threading.Thread(target=self._run, args=(ws,), name="genie-search", daemon=True)

    def start(self) -> GenieJob:
        """Start the search; returns the job."""
        self.started = time.monotonic()
        self._thread.start()
        return self

    def _run(self, ws: Workspace) -> None:
        try:
            self.outcome, self.result = run_genie(ws, self.request, self._progress, cancel=self.cancel_event)
        except Exception as exc:  # a bug in a back end: report it on the page instead of losing the thread
            logger.exception("genie search failed")
            self.outcome = Outcome(False, f"The search failed: {exc}")

    def _progress(self, fraction: float, text: str) -> None:
        self.fraction = max(self.fraction, min(max(fraction, 0.0), 1.0))
        self.text = text

    @property
    def done(self) -> bool:
        """Whether the search has finished (found, failed or cancelled)."""
        return self.outcome is not None and not self._thread.is_alive()

    def elapsed_s(self) -> float:
        """Seconds since the search started."""
        return time.monotonic() - self.started

    def eta_s(self) -> float | None:
        """Seconds left, from the progress so far and the time budget (``None`` before any progress)."""
        elapsed = self.elapsed_s()
        by_budget = max(0.0, self.request.budget_s - elapsed)
        if self.fraction < 0.02:
            return None
        by_rate = elapsed * (1.0 - self.fraction) / self.fraction
        return min(by_rate, by_budget) if by_budget > 0 else by_rate

    def cancel(self, wait_s: float = 30.0) -> None:
        """Ask the search to stop and wait (up to ``wait_s``) until it has."""
        self.cancel_event.set()
        self._thread.join(wait_s)

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the search to finish; returns whether it has."""
        self._thread.join(timeout_s)
        return self.done


def apply_candidate(ws: Workspace, result: dict[str, Any], index: int) -> Outcome:
    """Apply candidate ``index``'s recipe to the workspace, one revision per edit."""
    candidates = result.get("candidates") or []
    if not 0 <= index < len(candidates):
        return Outcome(False, f"There is no candidate #{index}.")
    recipe = candidates[index].get("recipe")
    if isinstance(recipe, list):
        recipe = {"modelps_recipe": 1, "edits": recipe}
    recipe = {k: v for k, v in dict(recipe).items() if k != "base"}
    return apply_recipe_text(ws, json.dumps(recipe))
