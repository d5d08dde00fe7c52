"""``modelps zoo``: list, export and evaluate the zoo's models (torch is imported only by ``export``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``zoo list|export|eval`` to the ``modelps`` command line."""
    from modelps.cli._common import add_json_flag

    zoo = subparsers.add_parser("zoo", help="ReID, self-supervised and face model families: list, export, evaluate")
    commands = zoo.add_subparsers(dest="zoo_command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser("list", help="the zoo's models: family, input shape, output dim, parameters")
    add_json_flag(p)
    p.set_defaults(func=_list)

    p = commands.add_parser("export", help="export a zoo model to ONNX (dynamic batch, checked against torch)")
    p.add_argument("name", help="zoo model name (see `modelps zoo list`)")
    p.add_argument("-o", "--output", type=Path, help="output file (default: NAME.onnx)")
    p.add_argument("--checkpoint", type=Path, help="a .pth state dict saved by the original training code")
    p.add_argument("--weights", choices=("seeded", "demo"), default="seeded",
                   help="seeded: original init + BatchNorm recalibration; demo: trained on digits (default: seeded)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and demo training (default: 0)")
    p.add_argument("--variant", help="deployable variant, e.g. `heads` (SSL online network with projector+predictor)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17)")
    batch = p.add_mutually_exclusive_group()
    batch.add_argument("--dynamic-batch", dest="dynamic_batch", action="store_true", default=True,
                       help="symbolic batch axis (default)")
    batch.add_argument("--static-batch", dest="dynamic_batch", action="store_false", help="batch fixed at 1")
    add_json_flag(p)
    p.set_defaults(func=_export)

    p = commands.add_parser("eval", help="task metrics of an ONNX model on a demo task (and fidelity to a reference)")
    p.add_argument("model", type=Path, help="ONNX model to evaluate")
    p.add_argument("--task", required=True, choices=("reid", "face", "ssl"), help="demo task")
    p.add_argument("--reference", type=Path, help="original ONNX model: also report fidelity to it")
    add_json_flag(p)
    p.set_defaults(func=_eval)


def _list(args: argparse.Namespace) -> int:
    from modelps.cli._common import print_json
    from zoo.registry import list_models

    rows = [s.summary() for s in list_models()]
    if args.json:
        print_json(rows)
        return 0
    print(f"{'name':<22} {'family':<7} {'input':<11} {'output':>6} {'params':>12}  variants")
    for r in rows:
        shape = "x".join(map(str, r["input_shape"]))
        print(f"{r['name']:<22} {r['family']:<7} {shape:<11} {r['output_dim']:>6} {r['params']:>12,}  {','.join(r['variants'])}")
    return 0


def _export(args: argparse.Namespace) -> int:
    import time

    from modelps.cli._common import print_json
    from zoo.api import export
    from zoo.registry import get_spec

    get_spec(args.name)  # unknown names fail before torch is imported
    out = args.output or Path(f"{args.name}.onnx")
    start = time.perf_counter()
    print(f"exporting {args.name} ({'checkpoint' if args.checkpoint else args.weights} weights) ...", file=sys.stderr)
    path = export(
        args.name, out, weights=args.weights, seed=args.seed, opset=args.opset, dynamic_batch=args.dynamic_batch,
        checkpoint=args.checkpoint, variant=args.variant,
    )  # fmt: skip
    info = {"name": args.name, "output": str(path), "bytes": path.stat().st_size, "opset": args.opset,
            "dynamic_batch": args.dynamic_batch, "seconds": round(time.perf_counter() - start, 2)}  # fmt: skip
    if args.json:
        print_json(info)
    else:
        print(f"wrote {path} ({info['bytes'] / 1e6:.1f} MB, opset {args.opset}, "
              f"{'dynamic' if args.dynamic_batch else 'static'} batch) in {info['seconds']} s")  # fmt: skip
    return 0


def _eval(args: argparse.Namespace) -> int:
    from modelps.cli._common import print_json
    from zoo.evaluation import evaluate

    report = evaluate(args.model, args.task, reference=args.reference)
    if args.json:
        print_json(report)
        return 0
    for key, value in report.items():
        if isinstance(value, dict):
            for k, v in value.items():
                print(f"{key}.{k}: {v:.4f}")
        elif isinstance(value, float):
            print(f"{key}: {value:.4f}")
        else:
            print(f"{key}: {value}")
    return 0
