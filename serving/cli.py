"""``modelps build``, ``modelps publish`` and ``modelps serve``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from modelps.cli._common import add_json_flag, existing_file, print_json

__all__ = ["register"]

_BACKENDS = ("ort-cpu", "ort-cuda", "ort-trt", "tensorrt")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the serving commands to the ``modelps`` parser."""
    _register_build(subparsers)
    _register_publish(subparsers)
    _register_serve(subparsers)


def _register_build(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build",
        help="optimise a model for a serving backend (ONNX Runtime or a TensorRT engine)",
        description="ORT backends save ONNX Runtime's optimised graph; tensorrt writes a serialized engine (.plan).",
    )
    p.add_argument("model", type=existing_file, help="the ONNX model")
    p.add_argument("--backend", choices=_BACKENDS, default="ort-cpu", help="target backend (default ort-cpu)")
    p.add_argument("-o", "--output", required=True, type=Path, help="output file (.onnx, or .plan for tensorrt)")
    p.add_argument("--fp16", action="store_true", help="allow FP16 kernels (ort-trt, tensorrt)")
    p.add_argument("--int8", action="store_true", help="allow INT8 kernels (tensorrt; needs --calib)")
    p.add_argument("--calib", type=existing_file, help="NPZ of calibration inputs, one array per input name")
    for which in ("min", "opt", "max"):
        p.add_argument(
            f"--{which}-shape", action="append", metavar="NAME:DxDx..", help=f"{which} shape of a dynamic input"
        )
    p.add_argument("--max-batch-size", type=int, default=8, help="profile max for a dynamic batch dim (default 8)")
    p.add_argument("--opt-level", choices=("disable", "basic", "extended", "all"), help="ORT graph optimisation level")
    p.add_argument("--workspace-mb", type=int, default=4096, help="TensorRT workspace limit (MiB)")
    p.add_argument("--timing-cache", type=Path, help="TensorRT timing cache file (default OUT.timing.cache)")
    add_json_flag(p)
    p.set_defaults(func=_build)


def _build(args: argparse.Namespace) -> int:
    from serving.build import build

    result = build(
        args.model,
        args.output,
        args.backend,
        fp16=args.fp16,
        int8=args.int8,
        calib=args.calib,
        min_shapes=args.min_shape,
        opt_shapes=args.opt_shape,
        max_shapes=args.max_shape,
        opt_level=args.opt_level,
        workspace_mb=args.workspace_mb,
        max_batch_size=args.max_batch_size,
        timing_cache=args.timing_cache,
    )
    if args.json:
        print_json({"path": result.path, "backend": result.backend, "flags": list(result.plan.flags), **result.details})
    else:
        flags = f", {'+'.join(result.plan.flags)}" if result.plan.flags else ""
        sys.stdout.write(f"built {result.path} ({result.backend}{flags})\n")
    return 0


def _register_publish(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "publish",
        help="add a model version to a Triton-layout model repository",
        description="Writes REPO/NAME/config.pbtxt and REPO/NAME/VERSION/model.onnx (or model.plan).",
    )
    p.add_argument("model", type=existing_file, help="ONNX model, or a .plan built with --backend tensorrt")
    p.add_argument("--repo", required=True, type=Path, help="repository folder (created if missing)")
    p.add_argument("--name", required=True, help="model name in the repository and URLs")
    p.add_argument("--version", type=int, help="version number (default: newest + 1)")
    p.add_argument("--backend", choices=_BACKENDS, default="ort-cpu", help="serving backend (default ort-cpu)")
    p.add_argument("--max-batch-size", type=int, help="largest merged batch (default 8 if the batch dim is dynamic)")
    p.add_argument("--no-dynamic-batching", action="store_true", help="run requests one at a time")
    p.add_argument("--queue-delay-us", type=int, help="wait for a fuller batch (default 0 on CPU, 500 on GPU)")
    p.add_argument("--max-queue-size", type=int, default=0, help="queue bound, 503 beyond it (default: server's)")
    p.add_argument("--instances", type=int, default=1, help="model instances, each with its own thread (default 1)")
    add_json_flag(p)
    p.set_defaults(func=_publish)


def _publish(args: argparse.Namespace) -> int:
    from serving.repository import publish

    result = publish(
        args.model,
        args.repo,
        args.name,
        version=args.version,
        backend=args.backend,
        max_batch_size=args.max_batch_size,
        dynamic_batching=not args.no_dynamic_batching,
        queue_delay_us=args.queue_delay_us,
        max_queue_size=args.max_queue_size,
        instances=args.instances,
    )
    if args.json:
        print_json({"name": result.name, "version": result.version, "path": result.path})
    else:
        sys.stdout.write(f"published {result.name} version {result.version} at {result.path}\n")
    return 0


def _register_serve(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a model repository over HTTP (KServe v2 / Open Inference Protocol)",
        description="Triton-compatible HTTP API: tritonclient works unchanged. Ctrl-C stops the server.",
    )
    p.add_argument("--repo", required=True, type=Path, help="model repository folder")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 picks a free one)")
    p.add_argument(
        "--api-key",
        default=os.environ.get("MODELPS_API_KEY"),
        help="bearer token for load/unload, required off loopback (default: $MODELPS_API_KEY)",
    )
    p.add_argument("--auth-inference", action="store_true", help="require the API key for inference too")
    p.add_argument("--no-repository-api", action="store_true", help="turn the load/unload endpoints off")
    p.add_argument("--max-body-mb", type=float, default=64.0, help="larger request bodies get 413 (default 64)")
    p.add_argument("--max-queue-size", type=int, default=256, help="default per-model queue bound (default 256)")
    p.add_argument("--model", action="append", dest="models", help="load only this model (repeatable)")
    p.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: one per core)")
    p.add_argument("--inter-op-threads", type=int, help="ONNX Runtime inter-op threads")
    p.add_argument("--spin", choices=("on", "off"), default="on", help="ORT thread spin-waiting (default on)")
    p.add_argument(
        "--opt-level", choices=("disable", "basic", "extended", "all"), default="all", help="ORT graph optimisation"
    )
    p.add_argument("--log-format", choices=("json", "text"), default="json", help="log format (default json lines)")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from serving import logs
    from serving.runners.onnxruntime import OrtSettings
    from serving.server import run
    from serving.settings import ServerSettings

    logs.configure(logging.DEBUG if args.verbose else logging.INFO, json_lines=args.log_format == "json")
    settings = ServerSettings(
        repo=args.repo,
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        auth_inference=args.auth_inference,
        repository_api=not args.no_repository_api,
        max_body_bytes=int(args.max_body_mb * (1 << 20)),
        max_queue_size=args.max_queue_size,
        models=tuple(args.models) if args.models else None,
        ort=OrtSettings(
            intra_op_threads=args.threads,
            inter_op_threads=args.inter_op_threads,
            spin=args.spin == "on",
            graph_optimization=args.opt_level,
        ),
    )
    run(settings)
    return 0
