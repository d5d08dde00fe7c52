"""``modelps build``, ``modelps publish`` and ``modelps serve``.

Each command is one table of :class:`_Arg` rows. A row adds its flag to the parser and names the
keyword of the library call it feeds (``to``), so every flag is declared once and passed on by name.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelps.cli._common import existing_file, print_json

__all__ = ["register"]

_BACKENDS = ("ort-cpu", "ort-cuda", "ort-trt", "tensorrt")
_OPT_LEVELS = ("disable", "basic", "extended", "all")


@dataclasses.dataclass(frozen=True)
class _Arg:
    """One command-line argument and the keyword of the library call it feeds (``None``: none)."""

    flags: tuple[str, ...]
    options: dict[str, Any]
    to: str | None = None
    convert: Callable[[Any], Any] | None = None

    @property
    def dest(self) -> str:
        """The attribute argparse stores the value under."""
        return self.options.get("dest") or self.flags[-1].lstrip("-").replace("-", "_")


def _arg(*flags: str, to: str | None = None, convert: Callable[[Any], Any] | None = None, **options: Any) -> _Arg:
    return _Arg(flags, options, to, convert)


def _keywords(args: argparse.Namespace, table: list[_Arg]) -> dict[str, Any]:
    """The library call's keyword arguments from the parsed flags (each converted where its row says)."""
    out = {}
    for row in table:
        if row.to is not None:
            value = getattr(args, row.dest)
            out[row.to] = row.convert(value) if row.convert is not None else value
    return out


def _backend(help_text: str) -> _Arg:
    return _arg("--backend", choices=_BACKENDS, default="ort-cpu", to="backend", help=help_text)


def _model(help_text: str) -> _Arg:
    return _arg("model", type=existing_file, to="model", help=help_text)


_JSON = _arg("--json", action="store_true", help="print machine-readable JSON")

# fmt: off
BUILD = [
    _model("the ONNX model"),
    _backend("target backend (default ort-cpu)"),
    _arg("-o", "--output", required=True, type=Path, to="out", help="output file (.onnx, or .plan for tensorrt)"),
    _arg("--fp16", action="store_true", to="fp16", help="allow FP16 kernels (ort-trt, tensorrt)"),
    _arg("--int8", action="store_true", to="int8", help="allow INT8 kernels (tensorrt; needs --calib)"),
    _arg("--calib", type=existing_file, to="calib", help="NPZ of calibration inputs, one array per input name"),
    *(_arg(f"--{which}-shape", action="append", metavar="NAME:DxDx..", to=f"{which}_shapes",
           help=f"{which} shape of a dynamic input") for which in ("min", "opt", "max")),
    _arg("--max-batch-size", type=int, default=8, to="max_batch_size",
         help="profile max for a dynamic batch dim (default 8)"),
    _arg("--opt-level", choices=_OPT_LEVELS, to="opt_level", help="ORT graph optimisation level"),
    _arg("--workspace-mb", type=int, default=4096, to="workspace_mb", help="TensorRT workspace limit (MiB)"),
    _arg("--timing-cache", type=Path, to="timing_cache", help="TensorRT timing cache file (default OUT.timing.cache)"),
    _JSON,
]

PUBLISH = [
    _model("ONNX model, or a .plan built with --backend tensorrt"),
    _arg("--repo", required=True, type=Path, to="repo", help="repository folder (created if missing)"),
    _arg("--name", required=True, to="name", help="model name in the repository and URLs"),
    _arg("--version", type=int, to="version", help="version number (default: newest + 1)"),
    _backend("serving backend (default ort-cpu)"),
    _arg("--max-batch-size", type=int, to="max_batch_size",
         help="largest merged batch (default 8 if the batch dim is dynamic)"),
    _arg("--no-dynamic-batching", action="store_true", to="dynamic_batching", convert=lambda off: not off,
         help="run requests one at a time"),
    _arg("--queue-delay-us", type=int, to="queue_delay_us",
         help="wait for a fuller batch (default 0 on CPU, 500 on GPU)"),
    _arg("--max-queue-size", type=int, default=0, to="max_queue_size",
         help="queue bound, 503 beyond it (default: server's)"),
    _arg("--instances", type=int, to="instances",
         help="model instances, each with its own thread (default: one per core on CPU, 1 on GPU)"),
    _JSON,
]

SERVE = [
    _arg("--repo", required=True, type=Path, to="repo", help="model repository folder"),
    _arg("--host", default="127.0.0.1", to="host", help="address to listen on (default 127.0.0.1)"),
    _arg("--port", type=int, default=8000, to="port", help="HTTP port (default 8000; 0 picks a free one)"),
    _arg("--grpc-port", type=int, default=8001, to="grpc_port", convert=lambda port: port or None,
         help="gRPC port (default 8001; 0 turns gRPC off)"),
    _arg("--api-key", default=os.environ.get("MODELPS_API_KEY"), to="api_key",
         help="bearer token for load/unload, required off loopback (default: $MODELPS_API_KEY)"),
    _arg("--auth-inference", action="store_true", to="auth_inference", help="require the API key for inference too"),
    _arg("--no-repository-api", action="store_true", to="repository_api", convert=lambda off: not off,
         help="turn the load/unload endpoints off"),
    _arg("--max-body-mb", type=float, default=64.0, to="max_body_bytes", convert=lambda mb: int(mb * (1 << 20)),
         help="larger request bodies and gRPC messages are refused (default 64)"),
    _arg("--max-queue-size", type=int, default=256, to="max_queue_size",
         help="default per-model queue bound (default 256)"),
    _arg("--model", action="append", dest="models", to="models", convert=lambda names: tuple(names or ()) or None,
         help="load only this model (repeatable)"),
    _arg("--threads", type=int, to="intra_op_threads", help="ONNX Runtime intra-op threads (default: one per core)"),
    _arg("--inter-op-threads", type=int, to="inter_op_threads", help="ONNX Runtime inter-op threads"),
    _arg("--spin", choices=("on", "off"), default="off", to="spin", convert=lambda value: value == "on",
         help="ORT thread spin-waiting (default off: spinning threads lose time slices on a busy machine)"),
    _arg("--opt-level", choices=_OPT_LEVELS, default="all", to="graph_optimization", help="ORT graph optimisation"),
    _arg("--log-format", choices=("json", "text"), default="json", help="log format (default json lines)"),
]
# fmt: on
_ORT_KEYWORDS = ("intra_op_threads", "inter_op_threads", "spin", "graph_optimization")


def _build(args: argparse.Namespace) -> int:
    from serving.build import build

    result = build(**_keywords(args, BUILD))
    if args.json:
        print_json({"path": result.path, "backend": result.backend, "flags": list(result.plan.flags), **result.details})
    else:
        flags = f", {'+'.join(result.plan.flags)}" if result.plan.flags else ""
        sys.stdout.write(f"built {result.path} ({result.backend}{flags})\n")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from serving.repository import publish

    result = publish(**_keywords(args, PUBLISH))
    if args.json:
        print_json({"name": result.name, "version": result.version, "path": result.path})
    else:
        sys.stdout.write(f"published {result.name} version {result.version} at {result.path}\n")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from serving import logs
    from serving.runners.onnxruntime import OrtSettings
    from serving.server import run
    from serving.settings import ServerSettings

    logs.configure(logging.DEBUG if args.verbose else logging.INFO, json_lines=args.log_format == "json")
    keywords = _keywords(args, SERVE)
    ort = OrtSettings(**{key: keywords.pop(key) for key in _ORT_KEYWORDS})
    run(ServerSettings(**keywords, ort=ort))
    return 0


@dataclasses.dataclass(frozen=True)
class _Command:
    name: str
    help: str
    description: str
    table: list[_Arg]
    run: Callable[[argparse.Namespace], int]


_COMMANDS = [
    _Command(
        "build",
        "optimise a model for a serving backend (ONNX Runtime or a TensorRT engine)",
        "ORT backends save ONNX Runtime's optimised graph; tensorrt writes a serialized engine (.plan).",
        BUILD,
        _build,
    ),
    _Command(
        "publish",
        "add a model version to a Triton-layout model repository",
        "Writes REPO/NAME/config.pbtxt and REPO/NAME/VERSION/model.onnx (or model.plan).",
        PUBLISH,
        _publish,
    ),
    _Command(
        "serve",
        "serve a model repository over HTTP and gRPC (KServe v2 / Open Inference Protocol)",
        "Triton-compatible HTTP and gRPC APIs: tritonclient.http and tritonclient.grpc work unchanged. "
        "Ctrl-C stops the server.",
        SERVE,
        _serve,
    ),
]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the serving commands to the ``modelps`` parser."""
    for command in _COMMANDS:
        parser = subparsers.add_parser(command.name, help=command.help, description=command.description)
        for row in command.table:
            parser.add_argument(*row.flags, **row.options)
        parser.set_defaults(func=command.run)
