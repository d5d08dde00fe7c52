"""Core commands: ``inspect``, ``edit``, ``edits``, ``diff``, ``compare``, ``validate``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from modelps.cli._common import add_json_flag, print_json
from modelps.errors import EditError, RecipeError

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the core commands to the ``modelps`` parser."""
    inspect = commands.add_parser("inspect", help="summarize a model: signature, ops, parameters, FLOPs")
    inspect.add_argument("model", type=Path)
    inspect.add_argument("--per-node", action="store_true", help="also list MACs/FLOPs of every node")
    inspect.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE", help="value of a symbolic dim")
    inspect.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar="INPUT:1x3x640x640",
        help="concrete shape of an input, for FLOPs (repeatable)",
    )
    add_json_flag(inspect)
    inspect.set_defaults(func=_inspect)

    edit = commands.add_parser("edit", help="apply a recipe (and/or single edits) to a model")
    edit.add_argument("model", type=Path)
    edit.add_argument("--recipe", type=Path, help="recipe JSON file")
    edit.add_argument("--edit", action="append", default=[], metavar="JSON", help="one edit as JSON (repeatable)")
    edit.add_argument("-o", "--output", type=Path, required=True, help="where to save the edited model")
    edit.add_argument("--recipe-out", type=Path, help="save the full recipe applied")
    edit.add_argument("--external-data", metavar="NAME", help="save weights to this file beside the model")
    edit.add_argument("--validate", choices=["structure", "full", "runtime"], default="full")
    edit.add_argument("--ignore-base", action="store_true", help="apply even if the recipe names another base model")
    edit.add_argument(
        "--inputs", type=Path, help=".npz of validation inputs to measure edits on (default: seeded random)"
    )
    add_json_flag(edit)
    edit.set_defaults(func=_edit)

    edits = commands.add_parser("edits", help="list the available edits and their parameters")
    add_json_flag(edits)
    edits.set_defaults(func=_edits)

    diff = commands.add_parser("diff", help="structural diff of two models")
    diff.add_argument("a", type=Path)
    diff.add_argument("b", type=Path)
    add_json_flag(diff)
    diff.set_defaults(func=_diff)

    compare = commands.add_parser("compare", help="run two models on the same inputs and compare outputs")
    compare.add_argument("a", type=Path)
    compare.add_argument("b", type=Path)
    compare.add_argument("--inputs", type=Path, help=".npz whose keys are the input names (default: seeded random)")
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument("--rtol", type=float, default=1e-4)
    compare.add_argument("--atol", type=float, default=1e-5)
    add_json_flag(compare)
    compare.set_defaults(func=_compare)

    validate = commands.add_parser("validate", help="check a model: structure, checker, shapes, ONNX Runtime")
    validate.add_argument("model", type=Path)
    validate.add_argument("--level", choices=["structure", "full", "runtime"], default="runtime")
    validate.set_defaults(func=_validate)


def _parse_dims(items: list[str]) -> dict[str, int]:
    dims = {}
    for item in items:
        name, _, value = item.partition("=")
        if not name or not value.isdigit():
            raise EditError(f"--dim {item!r} must look like NAME=VALUE with a positive integer")
        dims[name] = int(value)
    return dims


def _inspect(args: argparse.Namespace) -> int:
    from modelps.inspect import parse_shape, summarize
    from modelps.io import load

    shapes = dict(parse_shape(text) for text in args.shape)
    summary = summarize(load(args.model), dims=_parse_dims(args.dim), shapes=shapes)
    if args.json:
        print_json(summary.to_dict(per_node=args.per_node))
        return 0
    print(f"model      {args.model}")
    print(
        f"opset      {summary.opset}  (IR v{summary.ir_version}{', ' + summary.producer if summary.producer else ''})"
    )
    for kind, items in (("input", summary.inputs), ("output", summary.outputs)):
        for item in items:
            print(f"{kind:<10} {item['name']}: {item['dtype']}{item['shape']}")
    functions = f", {summary.functions} local functions" if summary.functions else ""
    print(f"nodes      {summary.nodes} ({len(summary.op_counts)} op types, {summary.subgraphs} subgraphs{functions})")
    print(f"params     {summary.params:,} ({summary.param_bytes / 1e6:.2f} MB)")
    if summary.flops is None:
        print(f"FLOPs      {summary.flops_note}")
    else:
        note = f"; {summary.flops_note}" if summary.flops_note else ""
        print(f"FLOPs      {summary.flops:,} ({summary.macs:,} MACs{note})")
    print("ops        " + ", ".join(f"{op} x{n}" for op, n in sorted(summary.op_counts.items(), key=lambda kv: -kv[1])))
    if args.per_node:
        for cost in summary.per_node:
            macs = "?" if cost.macs is None else f"{cost.macs:,}"
            flops = "?" if cost.flops is None else f"{cost.flops:,}"
            print(f"  {cost.node:<40} {cost.op_type:<20} {macs:>14} MACs {flops:>14} FLOPs")
    return 0


def _edit(args: argparse.Namespace) -> int:
    from modelps.edits import edit_from_dict
    from modelps.model import Model
    from modelps.recipe import Recipe

    recipe = Recipe.load(args.recipe) if args.recipe else Recipe()
    extra = []
    for text in args.edit:
        try:
            extra.append(edit_from_dict(json.loads(text)))
        except json.JSONDecodeError as exc:
            raise RecipeError(f"--edit is not valid JSON: {exc}") from exc
    if not recipe.edits and not extra:
        raise RecipeError("nothing to do: give --recipe and/or --edit")
    model = Model.load(args.model, validation=args.validate)
    if args.inputs:
        from modelps.compare import load_inputs

        model.validation_inputs = [load_inputs(args.inputs, model.ir)]
    reports = model.apply_recipe(recipe + extra, check_base=not args.ignore_base)
    model.save(args.output, external_data=args.external_data)
    if args.recipe_out:
        model.recipe.save(args.recipe_out)
    for index, report in enumerate(reports, 1):
        if report.fidelity is not None or report.note:
            print(f"edit #{index} {report.op}: {report.summary()}", file=sys.stderr)
        for warning in report.warnings:
            print(f"edit #{index} {report.op}: warning: {warning}", file=sys.stderr)
    if args.json:
        print_json({"output": str(args.output), "edits": [r.to_dict() for r in reports]})
    print(f"applied {len(model.history)} edit(s); saved {args.output}", file=sys.stderr)
    return 0


def _edits(args: argparse.Namespace) -> int:
    import dataclasses

    from modelps.edits import available_edits

    table = {}
    for name, cls in available_edits().items():
        params = {f.name: str(f.type) for f in dataclasses.fields(cls)}
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        table[name] = {"params": params, "preserves_function": cls.preserves_function, "summary": doc}
    if args.json:
        print_json(table)
        return 0
    for name, info in table.items():
        params = ", ".join(f"{k}: {v}" for k, v in info["params"].items())
        print(f"{name:<18} {info['summary']}\n{'':<18} params: {params}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from modelps.diff import diff
    from modelps.model import Model

    result = diff(Model.load(args.a, validation="none").ir, Model.load(args.b, validation="none").ir)
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.to_text())
    return 0


def _compare(args: argparse.Namespace) -> int:
    from modelps.compare import compare, load_inputs
    from modelps.io import load

    a, b = load(args.a), load(args.b)
    inputs = load_inputs(args.inputs, a) if args.inputs else None
    result = compare(a, b, inputs=inputs, seed=args.seed, rtol=args.rtol, atol=args.atol)
    if args.json:
        print_json(result.to_dict())
    else:
        for out in result.outputs:
            status = "close" if out.close else "DIFFERENT"
            print(f"{out.name}: {status}  max_abs={out.max_abs:.3g} max_rel={out.max_rel:.3g} cosine={out.cosine:.6f}")
        for name in result.only_in_a:
            print(f"{name}: only in {args.a}")
        for name in result.only_in_b:
            print(f"{name}: only in {args.b}")
    return 0 if result.close else 4


def _validate(args: argparse.Namespace) -> int:
    from modelps.io import load
    from modelps.validate import validate

    validate(load(args.model), args.level)
    print(f"{args.model}: valid ({args.level})")
    return 0
