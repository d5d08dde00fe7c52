"""The genie against the quantizers a user already has, on trained models it has never seen.

Per model, every tool gets the same calibration inputs (``--calib-n``, default 32) and every
variant is judged on the same other held-out task inputs (``--eval-n``, default 32):

* baselines (``bench/quant_baselines.py``): ORT ``quantize_static`` QDQ per-channel with MinMax,
  Percentile and Entropy after ``quant_pre_process``; ORT ``quantize_dynamic``; Olive and Neural
  Compressor where ``--peers-python`` points at an environment that has them;
* ``modelps genie MODEL --calib calib.npz -o best.onnx --json``: default settings (floor 0.99,
  300 s budget), run as its own process so its wall time and peak RSS are the user's; its
  recommendation and its Pareto candidates (rebuilt from their recipes) are measured with the rest;
* with ``--peers-tune N``: also Neural Compressor's accuracy-aware ``autotune`` (its own tuning
  space, at most N trials, stop at a centred-cosine loss of 0.01 on the calibration inputs);
* with ``--defaults-vs-tuned MODEL,...``: on those models also the default invocation with five
  calibration images and ``--target-speedup 3.5``, and the tuned one (``--finetune 300
  --calib-samples 160`` with 160 images, ``--tuned-budget``).

Fidelity: centred cosine of every output on the held-out inputs (``modelps.fidelity``; its standard
error beside it); the task metric where the model has one (text IoU, CTC string accuracy, mean IoU,
re-id mAP, face verification accuracy). Latency: one interleaved measurement of all variants of a
model (``genie.measure``: medians of 9 rounds, more for a fast model, each
block >= 25 ms), ORT CPU.

Usage::

    python bench/genie_baselines.py [--models ppocr-det,ppocr-rec,...] [--out bench/genie-baselines.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after ROOT: bench/genie.py must not shadow the genie package

import quant_baselines as qb  # noqa: E402
from bench_models import Setup, load_setup, run_outputs  # noqa: E402

from genie.building import MIN_BLOCK_MS  # noqa: E402
from genie.measure import measure  # noqa: E402
from modelps.fidelity import fidelity, score  # noqa: E402
from modelps.model import Model  # noqa: E402
from modelps.recipe import Recipe  # noqa: E402

MODELS = ("ppocr-det", "ppocr-rec", "fedreid-resnet50", "seg-shapes", "face-mobilefacenet")
FLOOR = 0.99
MAX_PARETO = 5
JUDGE_TOTAL_MS = 3000.0  # the original timed >= 3 s in all: a sub-millisecond model gets up to 100 rounds


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# The CLI, then its own peak RSS (VmHWM, kB) into argv[1]. Not ru_maxrss: Linux carries the forking
# parent's resident size over exec into the child's, so a large parent inflates it.
_PEAK = """
import sys
from modelps.cli import main
path = sys.argv.pop(1)
try:
    code = main(sys.argv[1:])
finally:
    status = open("/proc/self/status").read()
    open(path, "w").write(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM")))
sys.exit(code)
"""


def run_genie(model: Path, calib: Path, out: Path, args: list[str]) -> dict[str, Any]:
    """``modelps genie`` as a process of its own: its JSON, wall time and peak RSS."""
    hwm = out.with_suffix(".hwm")
    cmd = [sys.executable, "-c", _PEAK, str(hwm), "genie", str(model), "--calib", str(calib), "--json", "-o", str(out)]
    cmd += args
    _log("  $ modelps genie " + " ".join(cmd[5:]))
    stdout, stderr = out.with_suffix(".json"), out.with_suffix(".log")
    start = time.monotonic()
    with stdout.open("w") as so, stderr.open("w") as se:
        proc = subprocess.Popen(cmd, stdout=so, stderr=se)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    peak = float(hwm.read_text()) / 1024 if hwm.exists() else usage.ru_maxrss / 1024
    result: dict[str, Any] = {"wall_s": wall, "peak_rss_mb": peak, "exit": proc.returncode}
    try:
        result["json"] = json.loads(stdout.read_text())
    except json.JSONDecodeError:
        tail = stderr.read_text().strip().splitlines()
        result["error"] = tail[-1] if tail else f"exit {proc.returncode}"
    return result


def _pick(found: dict[str, Any], floor: float) -> list[dict[str, Any]]:
    """The recommendation, the fastest candidate at the floor and a few Pareto ones (search numbers)."""
    cands = found.get("candidates", [])
    ok = [c for c in cands if score(c["fidelity"]) >= floor]
    picked = [c for c in [found.get("recommended"), max(ok, key=lambda c: c["speedup"], default=None)] if c]
    pareto = sorted((c for c in cands if c.get("pareto")), key=lambda c: c["speedup"])
    step = max(1, len(pareto) // MAX_PARETO)
    picked += pareto[::step][:MAX_PARETO]
    unique: dict[str, dict[str, Any]] = {}
    for cand in picked:
        unique.setdefault(cand["name"], cand)
    return list(unique.values())


def _build(original: Path, recipe: list[dict[str, Any]] | dict[str, Any], out: Path) -> Path:
    model = Model.load(original, validation="structure")
    model.apply_recipe(Recipe.from_dict(recipe))
    model.save(out)
    return out


def _genie_variants(
    setup: Setup, tag: str, run: dict[str, Any], files: dict[str, Path], folder: Path, rows: dict[str, dict[str, Any]]
) -> None:
    found = run.get("json")
    info = {k: run[k] for k in ("wall_s", "peak_rss_mb", "exit")}
    if not found:
        rows[tag] = {"tool": "genie", "note": run.get("error", "failed"), **info}
        return
    rec = found.get("recommended")
    info |= {"budget_s": found["goal"]["budget_s"], "notes": found.get("notes", []), "advice": found.get("advice")}
    info["search_candidates"] = [  # every candidate the search built, with its own measurements
        {"name": c["name"], "speedup": round(c["speedup"], 3), "fidelity": round(score(c["fidelity"]), 4)}
        for c in found.get("candidates", [])
    ]
    for cand in _pick(found, FLOOR):
        is_rec = rec is not None and cand["name"] == rec["name"]
        label = f"{tag}: {cand['name']}" + (" (recommended)" if is_rec else "")
        files[label] = _build(setup.original, cand["recipe"], folder / f"{tag}-{len(files)}.onnx")
        rows[label] = {"tool": "genie", "recommended": is_rec, "search_fidelity": score(cand["fidelity"]),
                       "search_speedup": cand["speedup"], **info}  # fmt: skip
    if rec is None:
        rows[f"{tag}: nothing recommended"] = {"tool": "genie", "note": found.get("message", ""), **info}


def run_model(name: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Every variant of one model, measured together."""
    setup = load_setup(name, folder, args.calib_n, args.eval_n)
    _log(f"{name}: {setup.origin}")
    files: dict[str, Path] = {"original": setup.original}
    rows: dict[str, dict[str, Any]] = {"original": {"tool": "fp32"}}

    pre, pre_note = qb.preprocess(setup.original, folder)
    for method in qb.ORT_METHODS:
        path, seconds, note = qb.ort_static(pre, setup.calib_feeds, folder / f"ort-{method}.onnx", method)
        rows[f"ORT static {method}"] = {"tool": "ort", "build_s": seconds, "note": note or pre_note}
        if path:
            files[f"ORT static {method}"] = path
        _log(f"  ORT static {method}: {seconds:.1f} s {note}")
    path, seconds, note = qb.ort_dynamic(pre, folder / "ort-dynamic.onnx")
    rows["ORT dynamic"] = {"tool": "ort", "build_s": seconds, "note": note}
    if path:
        files["ORT dynamic"] = path
    if args.peers_python:
        for tool, label in (("olive", "Olive static"), ("inc", "Neural Compressor static")):
            path, seconds, note = qb.peer(
                args.peers_python, tool, setup.original, setup.calib, folder / f"{tool}.onnx", 900
            )
            rows[label] = {"tool": tool, "build_s": seconds, "note": note}
            if path:
                files[label] = path
            _log(f"  {label}: {seconds:.1f} s {note}")
        if args.peers_tune:  # Neural Compressor's accuracy-aware loop: the peer of the genie's mixed precision
            extra = ("--tune", "--max-trials", str(args.peers_tune))
            path, seconds, note = qb.peer(
                args.peers_python, "inc", setup.original, setup.calib, folder / "inc-tuned.onnx", 1800, extra
            )
            rows["Neural Compressor autotune"] = {"tool": "inc", "build_s": seconds, "note": note}
            if path:
                files["Neural Compressor autotune"] = path
            _log(f"  Neural Compressor autotune: {seconds:.1f} s {note}")

    if args.no_genie:
        _judge(setup, files, rows)
        return {"model": name, "origin": setup.origin, "metric": setup.metric, "calib_n": args.calib_n,
                "eval_n": args.eval_n, "rows": rows}  # fmt: skip
    if not args.skip_main:
        main_args = ["--budget", str(args.budget), *args.genie_args.split()]
        run = run_genie(setup.original, setup.calib, folder / "genie.onnx", main_args)
        _log(f"  genie: {run['wall_s']:.0f} s, peak RSS {run['peak_rss_mb']:.0f} MB")
        _genie_variants(setup, "genie", run, files, folder, rows)
    if name in args.defaults_vs_tuned:
        five = setup.npz(folder / "calib5.npz", 5)
        run = run_genie(setup.original, five, folder / "default.onnx", ["--target-speedup", "3.5"])
        _log(f"  genie default: {run['wall_s']:.0f} s, peak RSS {run['peak_rss_mb']:.0f} MB")
        _genie_variants(setup, "genie default (5 images)", run, files, folder, rows)
    if name in args.defaults_vs_tuned and args.tuned_budget > 0:
        many = setup.npz(folder / "calib160.npz", 160)
        tuned = [
            "--target-speedup",
            "3.5",
            "--finetune",
            "300",
            "--calib-samples",
            "160",
            "--budget",
            str(args.tuned_budget),
        ]
        run = run_genie(setup.original, many, folder / "tuned.onnx", tuned)
        _log(f"  genie tuned: {run['wall_s']:.0f} s, peak RSS {run['peak_rss_mb']:.0f} MB")
        _genie_variants(setup, "genie tuned", run, files, folder, rows)

    _judge(setup, files, rows)
    return {"model": name, "origin": setup.origin, "metric": setup.metric, "calib_n": args.calib_n,
            "eval_n": args.eval_n, "rows": rows}  # fmt: skip


def _judge(setup: Setup, files: dict[str, Path], rows: dict[str, dict[str, Any]]) -> None:
    """Fidelity and task metric on the held-out inputs, then one interleaved latency measurement."""
    reference = run_outputs(setup.original, setup.eval_feeds)
    for label, path in files.items():
        outputs = reference if label == "original" else run_outputs(path, setup.eval_feeds)
        fid = fidelity(reference, outputs) if label != "original" else {"centered_cosine": 1.0}
        rows[label] |= {
            "fidelity": score(fid),
            "fidelity_se": fid.get("centered_cosine_se", 0.0),
            "task_metric": setup.task_score(path, outputs),
            "size_mb": path.stat().st_size / 1e6,
        }
    timings = measure({k: p.read_bytes() for k, p in files.items()}, setup.eval_feeds[0], baseline="original",
                      rounds=9, iters=5, min_block_ms=MIN_BLOCK_MS, min_total_ms=JUDGE_TOTAL_MS)  # fmt: skip
    for label, timing in timings.items():
        rows[label] |= {"latency_ms": timing.median_ms, "speedup": timing.speedup,
                        "speedup_spread": list(timing.speedup_spread)}  # fmt: skip
        r = rows[label]
        _log(f"  {label:46} {r['speedup']:5.2f}x  fid {r['fidelity']:.4f}  {setup.metric} {r['task_metric']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--budget", type=float, default=300.0, help="the genie's budget (its default, 300 s)")
    parser.add_argument("--genie-args", default="", help="more flags for the main genie run, e.g. '--finetune 200'")
    parser.add_argument("--calib-n", type=int, default=32)
    parser.add_argument("--eval-n", type=int, default=32)
    parser.add_argument("--defaults-vs-tuned", default="", help="models to run the default and tuned invocations on")
    parser.add_argument("--tuned-budget", type=float, default=1500.0, help="0: the default invocation only")
    parser.add_argument("--peers-python", default="", help="python of a venv with olive-ai / onnx-neural-compressor")
    parser.add_argument("--peers-tune", type=int, default=0, help="also Neural Compressor's autotune, N trials")
    parser.add_argument("--skip-main", action="store_true", help="only the default and tuned genie runs")
    parser.add_argument("--no-genie", action="store_true", help="the baselines alone (a peers-only run)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "genie-baselines.json")
    args = parser.parse_args(argv)
    args.defaults_vs_tuned = set(filter(None, args.defaults_vs_tuned.split(",")))
    logging.basicConfig(level=logging.WARNING)
    done: list[dict[str, Any]] = json.loads(args.out.read_text()) if args.out.exists() else []
    for name in args.models.split(","):
        if any(r["model"] == name for r in done):
            _log(f"{name}: already in {args.out}, skipped")
            continue
        with tempfile.TemporaryDirectory(prefix="genie-baselines-") as tmp:
            result = run_model(name, args, Path(tmp))
        done.append(result)
        args.out.write_text(json.dumps(done, indent=1, default=float) + "\n")
    from bench_render import render, render_defaults

    print(render(done))
    for result in done:
        if any(label.startswith("genie tuned") for label in result["rows"]):
            print(render_defaults(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
