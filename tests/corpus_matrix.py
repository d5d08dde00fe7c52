"""Every stage of ModelPS on one foreign model: the matrix behind tests/test_corpus_matrix.py and docs/compatibility.md.

Each stage function takes a :class:`zoo.corpus.CorpusModel` and returns :class:`Row` s: whether the
stage held, what it measured, and, where ModelPS refused, the reason it gave. A refusal with a
clear :class:`~modelps.errors.ModelPSError` counts as held (``refused``); anything else is a crash.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelps import EditError, Model, ModelPSError, Recipe
from modelps.fidelity import fidelity, score
from modelps.inspect import summarize
from modelps.io import load
from modelps.runtime import run

__all__ = [
    "PRESERVING",
    "Row",
    "calib_npz",
    "stage_genie",
    "stage_inspect",
    "stage_lossy",
    "stage_preserving",
    "stage_replay",
    "stage_serve",
]

PRESERVING = ("rename", "add_output", "set_input_shape", "simplify", "convert_opset")
RTOL, ATOL = 1e-4, 1e-5


@dataclasses.dataclass
class Row:
    """One model x stage result."""

    model: str
    stage: str
    status: str  # "ok", "refused" (a clear ModelPSError), "failed"
    detail: str = ""
    numbers: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def held(self) -> bool:
        """The stage did what it promises, or refused with a clear reason."""
        return self.status in ("ok", "refused")


def _outputs(model: Any, feeds: Sequence[Mapping[str, np.ndarray]]) -> dict[str, list[np.ndarray]]:
    runs = [run(model, feed) for feed in feeds]
    return {name: [r[name] for r in runs] for name in runs[0]}


def _max_diff(a: Mapping[str, list[np.ndarray]], b: Mapping[str, list[np.ndarray]]) -> float:
    worst = 0.0
    for name, arrays in a.items():
        for x, y in zip(arrays, b[name], strict=True):
            if x.shape != y.shape:
                return float("inf")
            if np.issubdtype(x.dtype, np.floating):
                scale = ATOL + RTOL * np.abs(x.astype(np.float64))
                worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)) / scale)))
            elif not np.array_equal(x, y):
                return float("inf")
    return worst


def stage_inspect(m: Any) -> Row:
    """``inspect``'s parameter count against the corpus's independent protobuf count."""
    summary = summarize(load(m.path))
    ok = summary.params == m.param_count
    numbers = {"params": summary.params, "independent": m.param_count, "flops": summary.flops}
    return Row(m.name, "inspect", "ok" if ok else "failed", summary.flops_note, numbers)


def _middle_tensor(model: Any) -> str | None:
    """A float tensor halfway through the main graph that is not a graph output."""
    from modelps.validate import infer_value_types

    types = infer_value_types(model)
    outputs = {v.name for v in model.graph.outputs}
    nodes = list(model.graph)
    for node in nodes[len(nodes) // 2 :] + nodes[: len(nodes) // 2]:
        for value in node.outputs:
            dtype = value.dtype or (types[value.name][0].dtype if value.name in types else None)
            if value.name and value.name not in outputs and dtype is not None and dtype.name == "FLOAT":
                return value.name
    return None


def _preserving_edit(kind: str, model: Any, feeds: Sequence[Mapping[str, np.ndarray]]) -> dict[str, Any] | None:
    first = next(iter(model.graph))
    if kind == "rename":
        return {"op": "rename", "kind": "node", "old": first.name, "new": "renamed_by_modelps"}
    if kind == "add_output":
        name = _middle_tensor(model)
        return {"op": "add_output", "tensor": name} if name else None
    if kind == "set_input_shape":
        for value in model.graph.inputs:
            dims = list(value.shape or [])
            if dims and not (isinstance(dims[0], int) and dims[0] > 0) and value.name in feeds[0]:
                return {
                    "op": "set_input_shape",
                    "input": value.name,
                    "axis": 0,
                    "dim": int(feeds[0][value.name].shape[0]),
                }
        return None
    if kind == "simplify":
        return {"op": "simplify"}
    opset = model.opset_imports.get("", 17)
    return {"op": "convert_opset", "target": 21 if opset < 21 else 18}


def stage_preserving(m: Any, feeds: Sequence[Mapping[str, np.ndarray]]) -> list[Row]:
    """Each function-preserving edit applied alone: outputs equal in ONNX Runtime, or a clear refusal."""
    rows = []
    base = load(m.path)
    expected = _outputs(base, feeds)
    for kind in PRESERVING:
        model = Model.load(m.path)
        edit = _preserving_edit(kind, model.ir, feeds)
        if edit is None:
            rows.append(Row(m.name, kind, "refused", "does not apply (nothing to edit)"))
            continue
        try:
            model.apply(edit)
        except ModelPSError as exc:
            rows.append(Row(m.name, kind, "refused", str(exc)))
            continue
        got = _outputs(model.ir, feeds)
        diff = _max_diff(expected, got)
        status = "ok" if diff <= 1.0 else "failed"
        rows.append(Row(m.name, kind, status, "", {"max_diff_over_tolerance": diff, "edit": edit}))
    return rows


def calib_npz(m: Any, folder: Path, count: int = 8) -> Path:
    """The model's own realistic inputs as an ``.npz`` calibration file (first axis: samples)."""
    feeds = m.inputs(count, seed=7)
    shapes = {name: array.shape for name, array in feeds[0].items()}
    feeds = [f for f in feeds if {n: a.shape for n, a in f.items()} == shapes]  # one shape per input (an .npz)
    path = folder / f"{m.name}-calib.npz"
    np.savez(path, **{name: np.concatenate([f[name] for f in feeds]) for name in feeds[0]})
    return path


def stage_lossy(m: Any, feeds: Sequence[Mapping[str, np.ndarray]], folder: Path) -> list[Row]:
    """``to_fp16`` and ``quantize_int8``: a measured fidelity, never silently non-finite outputs."""
    rows = []
    calib = calib_npz(m, folder)
    for op, edit in (
        ("to_fp16", {"op": "to_fp16"}),
        ("quantize_int8", {"op": "quantize_int8", "calib": str(calib), "calib_samples": 8}),
    ):
        model = Model.load(m.path, validation_inputs=feeds)
        try:
            model.apply(edit)
        except ModelPSError as exc:
            rows.append(Row(m.name, op, "refused", str(exc)))
            continue
        report = model.reports[-1]
        outputs = _outputs(model.ir, feeds[:1])
        finite = all(np.isfinite(a).all() for arrays in outputs.values() for a in arrays if a.dtype.kind == "f")
        status = "ok" if report.fidelity is not None and finite else "failed"
        numbers = {"fidelity": report.fidelity, "summary": report.summary()}
        rows.append(Row(m.name, op, status, "" if finite else "non-finite outputs", numbers))
    return rows


def stage_replay(m: Any, edits: Sequence[Mapping[str, Any]]) -> Row:
    """The edits that applied, chained into one recipe, replay byte-identically on a fresh load."""
    model = Model.load(m.path)
    applied = []
    for edit in edits:
        try:
            model.apply(dict(edit))
            applied.append(edit)
        except EditError:
            continue
    recipe = Recipe.from_json(model.recipe.to_json())
    again = Model.load(m.path)
    again.apply_recipe(recipe)
    same = again.to_bytes() == model.to_bytes()
    return Row(m.name, "replay", "ok" if same else "failed", "", {"edits": len(applied)})


def stage_genie(m: Any, folder: Path, budget_s: float = 20.0) -> Row:
    """The genie finishes, within its budget, with a recommendation or a clear "cannot"."""
    from genie import Goal, search

    calib = calib_npz(m, folder, count=8)
    goal = Goal(
        calib=str(calib), budget_s=budget_s, calib_samples=8, holdout_samples=8, threads=1,
        methods=("quantize", "prune"), finetune_steps=0, min_fidelity=0.98,
    )  # fmt: skip
    started = time.monotonic()
    try:
        result = search(m.path, goal)
    except ModelPSError as exc:
        return Row(m.name, "genie", "refused", str(exc), {"seconds": time.monotonic() - started})
    seconds = time.monotonic() - started
    best = result.recommended
    numbers = {
        "seconds": round(seconds, 1),
        "budget_s": budget_s,
        "candidates": len(result.candidates),
        "speedup": round(best.speedup, 2) if best else None,
        "fidelity": round(best.score, 4) if best else None,
        "recommended": best.name if best else None,
    }
    return Row(m.name, "genie", "ok", result.message, numbers)


_TYPES = {"float32": "FP32", "float16": "FP16", "int64": "INT64", "int32": "INT32", "bool": "BOOL", "float64": "FP64"}


def stage_serve(m: Any, feeds: Sequence[Mapping[str, np.ndarray]], folder: Path) -> Row:
    """``publish`` + ``serve``: one inference over HTTP (tritonclient) with the in-process outputs."""
    import tritonclient.http as httpclient

    import serving

    expected = run(load(m.path), feeds[0])
    repo = folder / "repo"
    try:
        serving.publish(m.path, repo, "m")
    except ModelPSError as exc:
        return Row(m.name, "serve", "refused", str(exc))
    with serving.start_background(repo) as server:
        client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
        try:
            inputs = []
            for key, array in feeds[0].items():
                tensor = httpclient.InferInput(key, list(array.shape), _TYPES[str(array.dtype)])
                tensor.set_data_from_numpy(array, binary_data=True)
                inputs.append(tensor)
            result = client.infer("m", inputs, outputs=[httpclient.InferRequestedOutput(n) for n in expected])
            diff = _max_diff({k: [v] for k, v in expected.items()}, {k: [result.as_numpy(k)] for k in expected})
        finally:
            client.close()
    return Row(m.name, "serve", "ok" if diff <= 1.0 else "failed", "", {"max_diff_over_tolerance": diff})


def run_all(m: Any, *, genie_budget_s: float = 20.0) -> list[Row]:
    """Every stage on one model (for the compatibility table)."""
    feeds = m.inputs(2)
    rows = [stage_inspect(m)]
    with tempfile.TemporaryDirectory(prefix="modelps-matrix-") as tmp:
        folder = Path(tmp)
        preserving = stage_preserving(m, feeds)
        rows += preserving
        rows += stage_lossy(m, m.inputs(4), folder)
        rows.append(stage_replay(m, [r.numbers["edit"] for r in preserving if r.status == "ok"] + [{"op": "to_fp16"}]))
        rows.append(stage_genie(m, folder, genie_budget_s))
        rows.append(stage_serve(m, feeds, folder))
    return rows


def fidelity_of(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> float:
    """Centred cosine (or raw for one sample) over the outputs both have."""
    names = [n for n in a if n in b]
    return score(fidelity([a[n] for n in names], [b[n] for n in names]))
