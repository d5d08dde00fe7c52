"""Build a model for a serving backend.

* ``ort-cpu`` / ``ort-cuda`` / ``ort-trt``: ONNX Runtime applies its graph optimisations for that
  execution provider and saves the optimised model (``SessionOptions.optimized_model_filepath``).
* ``tensorrt``: TensorRT's ONNX parser and builder produce a serialized engine (``.plan``) with
  FP16/INT8 flags, one optimisation profile covering the dynamic dimensions, and a timing cache
  reused across builds. A ``.plan.json`` beside the engine records its inputs and outputs so that
  :func:`serving.publish` can write its config without TensorRT.

The configuration logic (:func:`parse_shapes`, :func:`make_profile`, :func:`plan_build`) is plain
Python and testable without a GPU; only :func:`build` touches ONNX Runtime or TensorRT.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelps.io import file_sha256
from modelps.runtime import open_session
from serving.errors import BackendUnavailableError, BuildError
from serving.repository import BACKENDS, DEFAULT_MAX_BATCH_SIZE, onnx_signature

__all__ = [
    "BuildPlan",
    "BuildResult",
    "ShapeProfile",
    "build",
    "make_profile",
    "parse_shapes",
    "plan_build",
]

logger = logging.getLogger(__name__)

_SHAPE = re.compile(r"^\d+(x\d+)*$")
OPT_LEVELS = ("disable", "basic", "extended", "all")


@dataclasses.dataclass(frozen=True)
class ShapeProfile:
    """The min/opt/max shapes of one input for a TensorRT optimisation profile."""

    name: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class BuildPlan:
    """Everything a build will do, decided before any GPU library is imported.

    Attributes:
        backend: One of :data:`serving.repository.BACKENDS`.
        flags: TensorRT ``BuilderFlag`` names (``FP16``, ``INT8``), or ORT TRT-EP switches.
        profile: One entry per input (empty for ORT CPU/CUDA builds).
        opt_level: ONNX Runtime graph optimisation level.
        workspace_bytes: TensorRT workspace memory pool limit.
        calib: NPZ of calibration inputs for INT8.
    """

    backend: str
    flags: tuple[str, ...]
    profile: tuple[ShapeProfile, ...]
    opt_level: str
    workspace_bytes: int
    calib: Path | None = None

    def provider_options(self) -> dict[str, Any]:
        """ONNX Runtime TensorRT execution provider options for an ``ort-trt`` build."""
        options: dict[str, Any] = {
            "trt_fp16_enable": "FP16" in self.flags,
            "trt_max_workspace_size": self.workspace_bytes,
        }
        if self.profile:
            for key, attr in (("min", "min"), ("opt", "opt"), ("max", "max")):
                options[f"trt_profile_{key}_shapes"] = ",".join(
                    f"{p.name}:{'x'.join(map(str, getattr(p, attr)))}" for p in self.profile
                )
        return options


@dataclasses.dataclass(frozen=True)
class BuildResult:
    """What :func:`build` wrote."""

    path: Path
    backend: str
    plan: BuildPlan
    details: dict[str, Any]


def parse_shapes(spec: str | Sequence[str] | None) -> dict[str, tuple[int, ...]]:
    """Parse trtexec-style shapes: ``"x:1x3x224x224,mask:1x16"`` (or a list of such strings).

    Raises:
        BuildError: A part is not ``name:DxDx...`` or an input appears twice.

    Example::

        >>> parse_shapes("x:1x3x224x224,ids:4x16")
        {'x': (1, 3, 224, 224), 'ids': (4, 16)}
    """
    if spec is None:
        return {}
    parts = [spec] if isinstance(spec, str) else list(spec)
    shapes: dict[str, tuple[int, ...]] = {}
    for part in (p.strip() for text in parts for p in text.split(",")):
        if not part:
            continue
        name, sep, dims = part.rpartition(":")
        if not sep or not name or not _SHAPE.match(dims):
            raise BuildError(f"shape {part!r} must look like NAME:1x3x224x224")
        if name in shapes:
            raise BuildError(f"input {name!r} is given two shapes")
        shapes[name] = tuple(int(d) for d in dims.split("x"))
    return shapes


def make_profile(
    inputs: Sequence[tuple[str, Sequence[int]]],
    min_shapes: Mapping[str, tuple[int, ...]],
    opt_shapes: Mapping[str, tuple[int, ...]],
    max_shapes: Mapping[str, tuple[int, ...]],
    *,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
) -> tuple[ShapeProfile, ...]:
    """One optimisation profile for the model's inputs (dims ``-1`` are dynamic).

    An input given no shapes whose only dynamic dimension is the first (batch) one gets
    ``1 / 1 / max_batch_size``; any other dynamic dimension must be given explicitly.

    Raises:
        BuildError: Unknown input names, a rank or fixed dimension that disagrees with the model,
            ``min <= opt <= max`` violated, or a dynamic dimension without shapes.
    """
    known = {name for name, _ in inputs}
    for which, shapes in (("--min-shape", min_shapes), ("--opt-shape", opt_shapes), ("--max-shape", max_shapes)):
        unknown = sorted(set(shapes) - known)
        if unknown:
            raise BuildError(f"{which} names unknown input(s) {unknown}; the model's inputs are {sorted(known)}")
    profile = []
    for name, dims in inputs:
        given = [s.get(name) for s in (min_shapes, opt_shapes, max_shapes)]
        if all(g is None for g in given):
            dynamic = [i for i, d in enumerate(dims) if d < 0]
            if not dynamic:
                fixed = tuple(dims)
                profile.append(ShapeProfile(name, fixed, fixed, fixed))
                continue
            if dynamic != [0]:
                raise BuildError(
                    f"input {name!r} has dynamic dimension(s) at {dynamic} of {list(dims)}: give "
                    f"--min-shape/--opt-shape/--max-shape {name}:{'x'.join(str(d if d >= 0 else 'N') for d in dims)}"
                )
            rest = tuple(dims[1:])
            profile.append(ShapeProfile(name, (1, *rest), (1, *rest), (max_batch_size, *rest)))
            continue
        if any(g is None for g in given):
            raise BuildError(f"input {name!r} needs all three of --min-shape, --opt-shape and --max-shape")
        low, opt, high = (tuple(g) for g in given if g is not None)
        for label, shape in (("min", low), ("opt", opt), ("max", high)):
            if len(shape) != len(dims):
                raise BuildError(
                    f"input {name!r}: {label} shape {list(shape)} has rank {len(shape)}, the model's is {len(dims)}"
                )
            for axis, (want, got) in enumerate(zip(dims, shape, strict=True)):
                if want >= 0 and want != got:
                    raise BuildError(
                        f"input {name!r}: {label} shape {list(shape)} sets fixed dimension {axis} to {got}, not {want}"
                    )
        if not all(a <= b <= c for a, b, c in zip(low, opt, high, strict=True)):
            raise BuildError(
                f"input {name!r}: need min <= opt <= max in every dimension, got {list(low)}, {list(opt)}, {list(high)}"
            )
        if min(low) < 1:
            raise BuildError(f"input {name!r}: dimensions must be at least 1, got min {list(low)}")
        profile.append(ShapeProfile(name, low, opt, high))
    return tuple(profile)


def plan_build(
    backend: str,
    inputs: Sequence[tuple[str, Sequence[int]]],
    *,
    fp16: bool = False,
    int8: bool = False,
    calib: str | os.PathLike[str] | None = None,
    min_shapes: Mapping[str, tuple[int, ...]] | None = None,
    opt_shapes: Mapping[str, tuple[int, ...]] | None = None,
    max_shapes: Mapping[str, tuple[int, ...]] | None = None,
    opt_level: str | None = None,
    workspace_mb: int = 4096,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
) -> BuildPlan:
    """Decide flags and profiles for a build, refusing combinations that cannot work.

    Raises:
        BuildError: Unknown backend, precision flags the backend cannot honour, INT8 without
            calibration data, or bad shapes (see :func:`make_profile`).

    Example::

        >>> plan = plan_build("tensorrt", [("x", [-1, 3, 8, 8])], fp16=True)
        >>> plan.flags, plan.profile[0].max
        (('FP16',), (8, 3, 8, 8))
    """
    if backend not in BACKENDS:
        raise BuildError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    shapes_given = any((min_shapes, opt_shapes, max_shapes))
    if backend in ("ort-cpu", "ort-cuda"):
        if fp16 or int8:
            raise BuildError(
                f"--fp16/--int8 need a TensorRT backend (ort-trt or tensorrt); for {backend}, convert the model "
                "itself with the to_fp16 or quantize_int8 edit"
            )
        if shapes_given:
            raise BuildError(f"--min/--opt/--max-shape only apply to ort-trt and tensorrt builds, not {backend}")
    if int8 and calib is None:
        raise BuildError("--int8 needs --calib NPZ with representative inputs (one array per input name)")
    if calib is not None and not int8:
        raise BuildError("--calib is only used with --int8")
    if int8 and backend == "ort-trt":
        raise BuildError(
            "INT8 with ort-trt needs a TensorRT calibration table; build with --backend tensorrt --int8 --calib NPZ"
        )
    if opt_level is not None and opt_level not in OPT_LEVELS:
        raise BuildError(f"--opt-level must be one of {', '.join(OPT_LEVELS)}")
    if workspace_mb < 1:
        raise BuildError(f"--workspace-mb must be positive, not {workspace_mb}")
    flags = tuple(flag for flag, on in (("FP16", fp16), ("INT8", int8)) if on)
    profile: tuple[ShapeProfile, ...] = ()
    if backend in ("ort-trt", "tensorrt"):
        profile = make_profile(
            inputs, min_shapes or {}, opt_shapes or {}, max_shapes or {}, max_batch_size=max_batch_size
        )
    default_level = {"ort-cpu": "extended", "ort-cuda": "extended", "ort-trt": "basic", "tensorrt": "disable"}[backend]
    return BuildPlan(
        backend=backend,
        flags=flags,
        profile=profile,
        opt_level=opt_level or default_level,
        workspace_bytes=workspace_mb << 20,
        calib=Path(calib) if calib is not None else None,
    )


def build(
    model: str | os.PathLike[str],
    out: str | os.PathLike[str],
    backend: str = "ort-cpu",
    *,
    fp16: bool = False,
    int8: bool = False,
    calib: str | os.PathLike[str] | None = None,
    min_shapes: str | Sequence[str] | None = None,
    opt_shapes: str | Sequence[str] | None = None,
    max_shapes: str | Sequence[str] | None = None,
    opt_level: str | None = None,
    workspace_mb: int = 4096,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    timing_cache: str | os.PathLike[str] | None = None,
) -> BuildResult:
    """Build ``model`` for ``backend`` into ``out`` (an ``.onnx`` for ORT backends, a ``.plan`` for TensorRT).

    Raises:
        BuildError: Bad options, or the backend failed to build.
        BackendUnavailableError: The backend's libraries are missing (the message says how to install them).
    """
    source = Path(model)
    target = Path(out)
    inputs, outputs = onnx_signature(source)
    plan = plan_build(
        backend,
        [(n, d) for n, _, d in inputs],
        fp16=fp16,
        int8=int8,
        calib=calib,
        min_shapes=parse_shapes(min_shapes),
        opt_shapes=parse_shapes(opt_shapes),
        max_shapes=parse_shapes(max_shapes),
        opt_level=opt_level,
        workspace_mb=workspace_mb,
        max_batch_size=max_batch_size,
    )
    if target.resolve() == source.resolve():
        raise BuildError(f"{target}: the output must not overwrite the input model")
    target.parent.mkdir(parents=True, exist_ok=True)
    if backend == "tensorrt":
        cache = Path(timing_cache) if timing_cache else target.with_suffix(".timing.cache")
        details = _build_tensorrt(source, target, plan, cache)
        _write_sidecar(source, target, plan, inputs, outputs, details)
    else:
        details = _build_ort(source, target, plan)
    logger.info("built %s for %s into %s", source, backend, target)
    return BuildResult(target, backend, plan, details)


def _build_ort(source: Path, target: Path, plan: BuildPlan) -> dict[str, Any]:
    from serving.runners.onnxruntime import OrtSettings, import_onnxruntime, providers_for, session_options

    ort = import_onnxruntime(gpu=plan.backend != "ort-cpu")
    options = session_options(ort, OrtSettings(graph_optimization=plan.opt_level))
    tmp = target.with_name(f".{target.name}.tmp")
    options.optimized_model_filepath = str(tmp)
    accelerator = "tensorrt" if plan.backend == "ort-trt" else None
    kind = "KIND_CPU" if plan.backend == "ort-cpu" else "KIND_GPU"
    providers = providers_for(kind, accelerator, plan.provider_options() if accelerator else None)
    if accelerator and "TensorrtExecutionProvider" not in ort.get_available_providers():
        raise BackendUnavailableError(
            "this onnxruntime has no TensorrtExecutionProvider: install onnxruntime-gpu and TensorRT "
            "(pip install --extra-index-url https://pypi.nvidia.com tensorrt)"
        )
    try:
        session, fallback = open_session(ort, str(source), options, providers)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"{source}: ONNX Runtime could not build it ({str(exc).strip().splitlines()[-1]})") from exc
    if fallback is not None:
        tmp.unlink(missing_ok=True)
        raise BackendUnavailableError(fallback)
    os.replace(tmp, target)
    return {"providers": session.get_providers(), "opt_level": plan.opt_level, "onnxruntime": ort.__version__}


def _calibration_batches(path: Path, names: Sequence[str], batch: int) -> Iterator[dict[str, np.ndarray]]:
    """Yield batches of calibration inputs from an NPZ holding one array per input (samples first)."""
    with np.load(path) as data:
        missing = sorted(set(names) - set(data.files))
        if missing:
            raise BuildError(f"{path}: calibration data lacks input(s) {missing} (has {sorted(data.files)})")
        arrays = {n: np.ascontiguousarray(data[n]) for n in names}
    count = min(a.shape[0] for a in arrays.values())
    for start in range(0, count - batch + 1, batch):
        yield {n: a[start : start + batch] for n, a in arrays.items()}


def _build_tensorrt(source: Path, target: Path, plan: BuildPlan, cache_path: Path) -> dict[str, Any]:
    from serving.runners.tensorrt import import_tensorrt

    trt = import_tensorrt()
    trt_logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(trt_logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse_from_file(str(source)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BuildError(f"{source}: TensorRT's ONNX parser failed: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, plan.workspace_bytes)
    for flag in plan.flags:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    profile = builder.create_optimization_profile()
    for entry in plan.profile:
        profile.set_shape(entry.name, entry.min, entry.opt, entry.max)
    config.add_optimization_profile(profile)
    calibrator = None
    if "INT8" in plan.flags and plan.calib is not None:
        from serving._calibrator import make_calibrator

        names = [entry.name for entry in plan.profile]
        batch = plan.profile[0].opt[0] if plan.profile else 1
        calibrator = make_calibrator(
            trt, _calibration_batches(plan.calib, names, batch), target.with_suffix(".calib.cache")
        )
        config.int8_calibrator = calibrator
        config.set_calibration_profile(profile)
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BuildError(f"{source}: TensorRT failed to build an engine (rerun with -v for TensorRT's log)")
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(bytes(serialized))
    os.replace(tmp, target)
    cache_tmp = cache_path.with_name(f".{cache_path.name}.tmp")
    cache_tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    os.replace(cache_tmp, cache_path)
    return {"tensorrt": trt.__version__, "flags": list(plan.flags), "timing_cache": str(cache_path)}


def _write_sidecar(
    source: Path,
    target: Path,
    plan: BuildPlan,
    inputs: list[tuple[str, str, list[int]]],
    outputs: list[tuple[str, str, list[int]]],
    details: dict[str, Any],
) -> None:
    info = {
        "modelps_engine": 1,
        "source_sha256": file_sha256(source),
        "inputs": [{"name": n, "datatype": t, "shape": d} for n, t, d in inputs],
        "outputs": [{"name": n, "datatype": t, "shape": d} for n, t, d in outputs],
        "profile": [dataclasses.asdict(p) for p in plan.profile],
        "flags": list(plan.flags),
        **details,
    }
    target.with_name(target.name + ".json").write_text(json.dumps(info, indent=2), encoding="utf-8")
