"""Benchmark the genie on zoo models with demo weights (ORT CPU).

For each model: one search (``--budget`` seconds) with candidates placed at 1.5x..4x, then for the
targets 1.5x to 4x the recommended candidate's measured speed-up, fidelity (centered cosine on
held-out task images) and task-metric drop (demo task: re-id mAP / face verification accuracy);
the same for the fastest candidate at >= 0.99, with and without quantization; and two baselines:
INT8 of every layer, and uniform-ratio magnitude (L1) pruning without reconstruction. All reported
latencies come from one final interleaved measurement of the original, the baselines and every
recommended candidate.

Against ORT's, Olive's and Neural Compressor's quantizers, and the default invocation against tuned
flags side by side in one run (``--defaults-vs-tuned MODEL,...``): ``bench/genie_baselines.py``.

Usage::

    python bench/genie.py [--models fedreid-resnet50,face-mobilefacenet] [--budget 900] [--out bench/genie.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genie.measure import measure  # noqa: E402
from genie.search import Goal, recommend, search  # noqa: E402
from modelps.model import Model  # noqa: E402
from modelps.recipe import Recipe  # noqa: E402

TARGETS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
TASKS = {"fedreid-resnet50": "reid", "face-mobilefacenet": "face"}
METRIC = {"reid": "mAP", "face": "accuracy"}


def calib_npz(model_path: Path, task: str, folder: Path, count: int = 160) -> Path:
    """Calibration images from the demo task's data with another seed than the evaluation's."""
    import onnx

    import zoo

    data = zoo.demo_task_data(task, 1)
    images = np.concatenate([data[k] for k in ("query", "gallery", "images", "train") if k in data])
    rng = np.random.default_rng(0)
    pick = rng.choice(len(images), size=min(count, len(images)), replace=False)
    name = onnx.load(str(model_path), load_external_data=False).graph.input[0].name
    path = folder / f"{model_path.stem}-calib.npz"
    np.savez(path, **{name: images[pick].astype(np.float32)})
    return path


_REFERENCE: dict[str, dict[str, np.ndarray]] = {}


def task_metric(path: Path, task: str, reference: Path) -> dict[str, Any]:
    """The demo task metric of ``path`` and its fidelity to ``reference`` on all task images."""
    import zoo

    key = f"{reference}:{task}"
    if key not in _REFERENCE:
        _REFERENCE[key] = zoo.task_embeddings(str(reference), task)
    ref = _REFERENCE[key]
    emb = ref if path == reference else zoo.task_embeddings(str(path), task)
    report = zoo.task_metrics(task, emb)
    metric = next(k for k in report if k.lower() == METRIC[task].lower() or k.lower().endswith(METRIC[task].lower()))
    a = np.concatenate([ref[k] for k in ref])
    b = np.concatenate([emb[k] for k in ref])
    return {"metric": metric, "value": float(report[metric]), "fidelity": zoo.fidelity(a, b)}


def build(model_path: Path, recipe: Any, out: Path) -> Path:
    model = Model.load(model_path, validation="structure")
    model.apply_recipe(recipe)
    model.save(out)
    return out


def run_model(
    name: str, budget: float, folder: Path, log: Any, weights: str = "demo", finetune: int = 0, calib_samples: int = 64
) -> dict[str, Any]:
    import zoo

    task = TASKS[name]
    original = Path(zoo.export(name, folder / f"{name}.onnx", weights=weights))
    calib = calib_npz(original, task, folder)
    goal = Goal(
        min_fidelity=0.99,
        calib=str(calib),
        calib_samples=calib_samples,
        holdout_samples=16,
        budget_s=budget,
        levels=(1.3, 1.5, 2.0, 3.5, 4.0),
    )
    if finetune:  # aim at 3.5x (plans there get fine-tuned) and fine-tune the plans that just miss 0.99
        goal = dataclasses.replace(goal, target_speedup=3.5, levels=(1.3, 1.5, 2.0, 4.0), finetune_steps=finetune)
    start = time.monotonic()
    result = search(original, goal, progress=lambda s, d, t: log(f"  {name}: {s} {d}/{t}") if d == t else None)
    search_s = time.monotonic() - start
    log(f"{name}: search took {search_s:.0f} s, {len(result.candidates)} candidates")
    chosen: dict[str, Any] = {}
    for target in TARGETS:
        best, message, closest = recommend(
            result.candidates, result.baseline, Goal(target_speedup=target, min_fidelity=0.99)
        )
        chosen[f"target {target:g}x"] = (best, message, closest)
    prune_only = [c for c in result.candidates if not c.quantized and c.score >= 0.99]
    best_prune = max(prune_only, key=lambda c: c.speedup, default=None)
    faithful = [c for c in result.candidates if c.score >= 0.99]
    best_any = max(faithful, key=lambda c: c.speedup, default=None)

    # baselines
    from modelps.compress.channels import analyze

    base_model = Model.load(original, validation="structure")
    int8 = next(c for c in result.candidates if c.name == "int8")
    uniform = {}
    internal = [g for g in analyze(base_model.ir).prunable if not g.residual]
    for ratio in (0.25, 0.5):
        uniform[f"uniform-l1-{ratio:g}"] = {
            "op": "prune_channels",
            "groups": {g.name: ratio for g in internal},
            "importance": "l1",
        }

    # build every model to verify, then measure them all interleaved with the original
    files: dict[str, Path] = {"original": original}
    recipes: dict[str, Any] = {}
    entries = {"int8 (every layer)": int8}
    for label, (best, _, _) in chosen.items():
        if best is not None:
            entries[f"genie {label}"] = best
    if best_prune is not None:
        entries["genie pruning only"] = best_prune
    if best_any is not None:
        entries["genie fastest at >= 0.99"] = best_any
    for cand in result.candidates:  # every pruning-only plan: which is fastest within 1 task-metric point?
        if not cand.quantized and cand.details.get("ratios") and cand.speedup >= 1.0:
            if all(cand is not other for other in entries.values()):
                entries[f"pruning {cand.name}"] = cand
    for label, cand in entries.items():
        files[label] = build(original, cand.recipe, folder / f"{name}-{len(files)}.onnx")
        recipes[label] = cand.recipe.to_dict()
    plan = next((c for c in result.candidates if c.name == "fp32-prune-1.30x"), None)
    if finetune and plan is not None:  # the 1.3x pruning-only plan, fine-tuned as the genie would
        tuned = dataclasses.replace(plan.recipe.edits[0], finetune_steps=finetune)
        recipe = Recipe((tuned,), plan.recipe.base_sha256)
        label = "pruning fp32-prune-1.30x fine-tuned"
        files[label] = build(original, recipe, folder / f"{name}-{len(files)}.onnx")
        recipes[label] = recipe.to_dict()
    for label, edit in uniform.items():
        recipe = Recipe.from_dict([edit])
        files[label] = build(original, recipe, folder / f"{name}-{len(files)}.onnx")
        recipes[label] = recipe.to_dict()
    feeds = {
        Model.load(original).ir.graph.inputs[0].name: np.load(calib)[Model.load(original).ir.graph.inputs[0].name][:1]
    }
    timings = measure({k: p.read_bytes() for k, p in files.items()}, feeds, baseline="original", rounds=9, iters=5)
    ref_metric = task_metric(original, task, original)
    rows = []
    for label, path in files.items():
        metric = task_metric(path, task, original) if label != "original" else ref_metric
        fid = metric["fidelity"].get("centered_cosine", 1.0) if label != "original" else 1.0
        rows.append(
            {
                "variant": label,
                "latency_ms": timings[label].median_ms,
                "speedup": timings[label].speedup,
                "speedup_range": timings[label].speedup_spread,
                "centered_cosine_task_images": fid,
                "task_metric": metric["metric"],
                "task_value": metric["value"],
                "task_drop_points": 100 * (ref_metric["value"] - metric["value"]),
                "size_mb": path.stat().st_size / 1e6,
                "recipe": recipes.get(label),
            }
        )
        log(
            f"  {label:28} {timings[label].median_ms:8.2f} ms {timings[label].speedup:5.2f}x fid {fid:.4f} {metric['metric']} {metric['value']:.4f}"  # noqa: E501
        )
    messages = {label: msg for label, (_, msg, _) in chosen.items()}
    pruning = [r for r in rows if r["variant"].startswith(("pruning ", "genie pruning only"))]
    within = [r for r in pruning if r["task_drop_points"] < 1.0]
    best_within = max(within, key=lambda r: r["speedup"], default=None)
    if best_within is not None:
        messages["pruning only, < 1 point drop"] = (
            f"{best_within['variant']}: {best_within['speedup']:.2f}x at centered cosine "
            f"{best_within['centered_cosine_task_images']:.4f}, drop {best_within['task_drop_points']:+.2f} points"
        )
    return {
        "model": name,
        "weights": weights,
        "search_time_s": search_s,
        "messages": messages,
        "rows": rows,
        "candidates": [{k: v for k, v in c.to_dict().items() if k != "recipe"} for c in result.candidates],
        "predictor_error": result.predictor_error,
    }


def render(results: list[dict[str, Any]]) -> None:
    """Print the results as Markdown tables."""
    for res in results:
        print(f"\n## {res['model']}, {res['weights']} weights (search {res['search_time_s']:.0f} s)\n")
        print("| variant | latency ms | speed-up (range) | centered cosine | task metric | drop (points) | MB |")
        print("|---|---|---|---|---|---|---|")
        for row in res["rows"]:
            lo, hi = row["speedup_range"]
            print(
                f"| {row['variant']} | {row['latency_ms']:.2f} | {row['speedup']:.2f}x ({lo:.2f}-{hi:.2f}) | "
                f"{row['centered_cosine_task_images']:.4f} | {row['task_metric']} {row['task_value']:.4f} | "
                f"{row['task_drop_points']:+.2f} | {row['size_mb']:.1f} |"
            )
        print("\nSearch candidates (speed-ups from the search's own interleaved run):\n")
        print("| candidate | speed-up | predicted ms | measured ms | centered cosine | pruned |")
        print("|---|---|---|---|---|---|")
        for cand in sorted(res["candidates"], key=lambda c: -c["speedup"]):
            pred = f"{cand['predicted_ms']:.2f}" if cand["predicted_ms"] is not None else "-"
            print(
                f"| {cand['name']} | {cand['speedup']:.2f}x | {pred} | {cand['latency_ms']:.2f} | "
                f"{cand['fidelity']['centered_cosine']:.4f} | {cand['pruned_fraction']:.0%} |"
            )
        for label, msg in res["messages"].items():
            print(f"- {label}: {msg}")
        print(f"- latency predictor: {res['predictor_error']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="fedreid-resnet50,face-mobilefacenet")
    parser.add_argument("--budget", type=float, default=900.0)
    parser.add_argument("--out", type=Path, default=Path("bench/genie.json"))
    parser.add_argument(
        "--calib-samples",
        type=int,
        default=64,
        metavar="N",
        help="calibration images (default 64; of the 160 rendered, 16 or a quarter are held out)",
    )
    parser.add_argument(
        "--finetune", type=int, default=0, metavar="STEPS", help="fine-tune plans near the floor (needs torch)"
    )
    parser.add_argument(
        "--weights", default="demo", choices=["demo", "seeded"], help="zoo weights (judge fidelity on demo)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    results = []
    with tempfile.TemporaryDirectory(prefix="genie-bench-") as tmp:
        for name in args.models.split(","):
            results.append(
                run_model(name, args.budget, Path(tmp), log, args.weights, args.finetune, args.calib_samples)
            )
    args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    render(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
