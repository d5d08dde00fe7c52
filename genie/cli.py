"""``modelps genie``: ask for recipes that meet a latency target, measured on a backend."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from modelps.cli._common import add_json_flag, existing_file, print_json

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``genie`` command."""
    parser = subparsers.add_parser(
        "genie",
        help="search pruning + INT8 recipes that meet a latency target (measured)",
        description=(
            "Search channel pruning (with least-squares reconstruction) and static INT8 quantization "
            "recipes for MODEL, measure every candidate against the original on the backend, and "
            "recommend one that meets the target. Nothing is changed unless -o/--recipe-out is given."
        ),
    )
    parser.add_argument("model", type=existing_file, metavar="MODEL", help="ONNX model file")
    parser.add_argument("--backend", default="ort-cpu", choices=["ort-cpu", "ort-cuda", "ort-trt", "tensorrt"])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--target-latency", type=float, metavar="MS", help="latency goal in milliseconds")
    target.add_argument("--target-speedup", type=float, metavar="X", help="speed-up goal over the original")
    parser.add_argument(
        "--min-fidelity", type=float, default=0.99, metavar="F", help="centered cosine floor (default 0.99)"
    )
    parser.add_argument("--max-size", type=float, metavar="MB", help="model size budget in MB")
    parser.add_argument("--methods", default="quantize,prune", help="comma-separated: quantize, prune (default both)")
    parser.add_argument(
        "--calib", default="samples", metavar="NPZ|DIR", help="calibration inputs (default: bundled sample images)"
    )
    parser.add_argument(
        "--calib-samples",
        type=int,
        default=16,
        metavar="N",
        help="calibration inputs for INT8 ranges and pruning reconstruction (default 16; 64 re-fits deep layers "
        "markedly better when that many are given)",
    )
    parser.add_argument(
        "--finetune",
        type=int,
        default=None,
        metavar="STEPS",
        help="fine-tune (distill from the original, needs PyTorch) the pruning plans that just miss the "
        "fidelity floor for STEPS steps each, their INT8 versions and INT8 near the floor quantization-aware "
        "(at most 200 steps) (default: up to 300 when PyTorch is installed and the budget allows; 0: off)",
    )
    parser.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar="INPUT:1x3x640x640",
        help="shape to measure a dynamic input at (default: the calibration inputs' shape; repeatable)",
    )
    parser.add_argument(
        "--eval",
        metavar="MODULE:FUNCTION",
        help="judge candidates by your task metric: a function taking an ONNX model path, returning a score "
        "(higher is better)",
    )
    parser.add_argument("--eval-data", type=existing_file, metavar="NPZ", help="labelled inputs ('labels' array)")
    parser.add_argument("--metric", choices=["top1", "ctc_accuracy", "miou"], help="metric for --eval-data")
    parser.add_argument(
        "--max-metric-drop",
        type=float,
        default=0.01,
        metavar="D",
        help="with --eval or --eval-data: the largest drop of the task metric allowed (default 0.01)",
    )
    parser.add_argument("--no-mixed-precision", action="store_true", help="never keep sensitive layers in float")
    parser.add_argument(
        "--budget", type=float, default=300.0, metavar="SECONDS", help="search time budget (default 300)"
    )
    parser.add_argument("--threads", type=int, help="intra-op threads for measurements (default: all cores, max 8)")
    parser.add_argument("--seed", type=int, default=0)
    add_json_flag(parser)
    parser.add_argument("-o", "--output", type=Path, metavar="BEST.onnx", help="write the recommended model")
    parser.add_argument("--recipe-out", type=Path, metavar="R.json", help="write the recommended recipe")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the search and report."""
    from genie.search import Goal, search
    from modelps.compress.calib import source_path
    from modelps.errors import ModelPSError
    from modelps.inspect import parse_shape
    from modelps.model import Model

    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if args.calib_samples < 1:
        raise ModelPSError(f"--calib-samples must be at least 1, got {args.calib_samples}")
    if args.calib not in ("samples", "random") and not Path(source_path(args.calib)).exists():
        raise ModelPSError(f"calibration source {args.calib!r}: no such file or folder")
    goal = Goal(
        backend=args.backend,
        target_latency_ms=args.target_latency,
        target_speedup=args.target_speedup,
        min_fidelity=args.min_fidelity,
        max_size_mb=args.max_size,
        methods=methods,
        calib=args.calib,
        calib_samples=args.calib_samples,
        finetune_steps=args.finetune,
        budget_s=args.budget,
        threads=args.threads,
        seed=args.seed,
        shapes=dict(parse_shape(text) for text in args.shape),
        evaluate=_evaluator(args),
        max_metric_drop=args.max_metric_drop,
        mixed_precision=not args.no_mixed_precision,
    )
    with BudgetBar(args.budget) as bar:
        result = search(args.model, goal, progress=bar.update)
    best = result.recommended
    if best is not None:
        if args.recipe_out:
            best.recipe.save(args.recipe_out)
        if args.output:
            model = Model.load(args.model)
            model.apply_recipe(best.recipe)
            model.save(args.output)
    if args.json:
        print_json(result.to_dict())
    else:
        _print_table(result)
    return 0


def _print_table(result: Any) -> None:
    base = result.baseline
    _out(
        f"original: {base.latency_ms:.2f} ms (p10-p90 {base.spread_ms[0]:.2f}-{base.spread_ms[1]:.2f}), {base.size_bytes / 1e6:.1f} MB"  # noqa: E501
    )
    _out(f"{'candidate':28} {'ms':>8} {'speedup':>8} {'fidelity':>9} {'MB':>7} {'pred ms':>8}  pareto")
    for c in sorted(result.candidates, key=lambda c: -c.speedup):
        pred = f"{c.predicted_ms:8.2f}" if c.predicted_ms is not None else f"{'-':>8}"
        _out(
            f"{c.name:28} {c.latency_ms:8.2f} {c.speedup:7.2f}x {c.score:9.4f} {c.size_bytes / 1e6:7.1f} {pred}  {'*' if c.pareto else ''}"  # noqa: E501
        )
    for note in result.notes:
        _out(f"note: {note}")
    _out(result.message)
    if result.recommended is not None:
        _out(f"recommended: {result.recommended.name}: {result.recommended.explanation}")
    if result.advice:
        _out(f"what would help: {result.advice}")
    if result.predictor_error:
        err = result.predictor_error
        _out(f"latency predictor: median error {err['median_abs_rel_error']:.1%}, {err['within_10pct']:.0%} within 10%")
    _out(f"search time: {result.search_time_s:.1f} s")


def _evaluator(args: argparse.Namespace) -> Any:
    from genie.evaluation import labelled_evaluator, load_evaluator
    from modelps.errors import ModelPSError

    if args.eval and args.eval_data:
        raise ModelPSError("give --eval or --eval-data with --metric, not both")
    if args.eval:
        return load_evaluator(args.eval)
    if args.eval_data:
        if not args.metric:
            raise ModelPSError("--eval-data needs --metric (top1, ctc_accuracy or miou)")
        return labelled_evaluator(args.eval_data, args.metric)
    if args.metric:
        raise ModelPSError("--metric needs --eval-data")
    return None


class BudgetBar:
    """Progress on stderr against the time budget: a bar with an ETA on a terminal, a line per stage otherwise."""

    def __init__(self, budget_s: float) -> None:
        import time

        from tqdm import tqdm

        self._time = time.monotonic
        self.start = self._time()
        self.budget = budget_s
        self.tty = sys.stderr.isatty()
        self.stage = ""
        fmt = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [elapsed {elapsed}, ETA {remaining}]"
        self.bar = tqdm(total=budget_s, file=sys.stderr, bar_format=fmt, leave=False) if self.tty else None

    def __enter__(self) -> BudgetBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, stage: str, done: int, total: int) -> None:
        """Report ``stage`` at ``done`` of ``total``."""
        elapsed = self._time() - self.start
        if self.bar is not None:
            self.bar.set_description_str(f"genie {stage} {done}/{total}", refresh=False)
            self.bar.n = min(elapsed, self.budget)
            self.bar.refresh()
        elif stage != self.stage:
            left = max(self.budget - elapsed, 0.0)
            sys.stderr.write(f"genie: {elapsed:5.0f} s  {stage} ({done}/{total}), at most {left:.0f} s left\n")
            sys.stderr.flush()
        self.stage = stage


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
