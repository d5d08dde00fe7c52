"""Latency measurement on a backend: warm-up, fixed threads, candidates interleaved with the baseline.

Timings on shared machines drift by up to 4x, so :func:`measure` never times models one after
the other: each *round* runs every model (in a seeded shuffled order) a few times, and each
candidate's speed-up is the median over rounds of ``baseline_round_median / candidate_round_median``.

Backends (``--backend``): ``ort-cpu`` (default), ``ort-cuda``, ``ort-trt`` (ONNX Runtime execution
providers) and ``tensorrt`` (a native TensorRT engine). GPU libraries are imported only when their
backend is used; :class:`BackendUnavailable` says what is missing.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from modelps.errors import ModelPSError
from modelps.runtime import open_session, provider_name

__all__ = ["BACKENDS", "BackendUnavailable", "Runner", "Timing", "make_runner", "measure"]

logger = logging.getLogger(__name__)

BACKENDS = ("ort-cpu", "ort-cuda", "ort-trt", "tensorrt")


MAX_ITERS = 200
MAX_ROUNDS = 100
SETTLE_S = 0.05  # pause before each model's block when threads spin (they stop spinning well within it)


class BackendUnavailable(ModelPSError):
    """The requested backend cannot run on this machine (its library or device is missing)."""


class Runner(Protocol):
    """Runs one model on fixed inputs."""

    def __call__(self) -> Any:
        """Run the model once."""
        ...


@dataclasses.dataclass
class Timing:
    """Latency of one model: median and spread (10th-90th percentile) in ms, and the speed-up."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    runs: int
    speedup: float = 1.0
    speedup_spread: tuple[float, float] = (1.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)


def default_threads() -> int:
    """The fixed intra-op thread count used unless told otherwise (all cores, at most 8)."""
    return max(1, min(8, os.cpu_count() or 1))


Source = bytes | str | os.PathLike[str]
"""A model to time: its serialized bytes or the path of its file."""

GROUP_BYTES = 400_000_000
"""At most this many model bytes have sessions open at once (bounds memory on large models)."""


def _size(source: Source) -> int:
    return len(source) if isinstance(source, bytes) else os.path.getsize(source)


def _ort_runner(
    model_bytes: Source, feeds: Mapping[str, np.ndarray], providers: list[Any], threads: int, spin: bool
) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    available = set(ort.get_available_providers())
    wanted = provider_name(providers[0])
    if wanted not in available:
        raise BackendUnavailable(f"ONNX Runtime here has no {wanted} (available: {sorted(available)})")
    source = model_bytes if isinstance(model_bytes, bytes) else os.fspath(model_bytes)
    session, fallback = open_session(ort, source, options, providers)
    if fallback is not None:
        raise BackendUnavailable(fallback)
    data = dict(feeds)
    return lambda: session.run(None, data)


def _tensorrt_runner(model_bytes: Source, feeds: Mapping[str, np.ndarray]) -> Runner:  # pragma: no cover - GPU only
    try:
        import tensorrt as trt
        from cuda.bindings import runtime as cudart
    except ImportError as exc:
        raise BackendUnavailable(f"the tensorrt backend needs the tensorrt and cuda-python packages ({exc})") from exc
    logger_trt = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger_trt)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger_trt)
    if not isinstance(model_bytes, bytes):
        with open(model_bytes, "rb") as handle:
            model_bytes = handle.read()
    if not parser.parse(model_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendUnavailable(f"TensorRT cannot parse the model: {errors}")
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    if any(layer.precision == trt.int8 for layer in (network.get_layer(i) for i in range(network.num_layers))):
        config.set_flag(trt.BuilderFlag.INT8)
    engine = trt.Runtime(logger_trt).deserialize_cuda_engine(builder.build_serialized_network(network, config))
    context = engine.create_execution_context()
    buffers = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        shape = tuple(context.get_tensor_shape(name))
        dtype = trt.nptype(engine.get_tensor_dtype(name))
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        _, pointer = cudart.cudaMalloc(nbytes)
        if name in feeds:
            host = np.ascontiguousarray(feeds[name].astype(dtype))
            cudart.cudaMemcpy(pointer, host.ctypes.data, nbytes, cudart.cudaMemcpyKind.cudaMemcpyHostToDevice)
        context.set_tensor_address(name, pointer)
        buffers.append(pointer)
    _, stream = cudart.cudaStreamCreate()

    def run() -> None:
        context.execute_async_v3(stream)
        cudart.cudaStreamSynchronize(stream)

    return run


def make_runner(
    backend: str,
    model_bytes: Source,
    feeds: Mapping[str, np.ndarray],
    *,
    threads: int | None = None,
    spin: bool = True,
) -> Runner:
    """A zero-argument callable running the model once on ``backend``.

    ``spin`` lets ONNX Runtime's idle intra-op threads spin (its default, and ``modelps serve``'s).

    Raises:
        BackendUnavailable: The backend's library or device is missing here.
        ModelPSError: ``backend`` is not one of :data:`BACKENDS`.
    """
    threads = threads or default_threads()
    if backend == "ort-cpu":
        return _ort_runner(model_bytes, feeds, ["CPUExecutionProvider"], threads, spin)
    if backend == "ort-cuda":
        return _ort_runner(model_bytes, feeds, ["CUDAExecutionProvider", "CPUExecutionProvider"], threads, spin)
    if backend == "ort-trt":
        trt_options = {"trt_fp16_enable": True, "trt_int8_enable": True}
        return _ort_runner(
            model_bytes, feeds, [("TensorrtExecutionProvider", trt_options), "CUDAExecutionProvider"], threads, spin
        )
    if backend == "tensorrt":
        return _tensorrt_runner(model_bytes, feeds)
    raise ModelPSError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def measure(
    models: Mapping[str, Source],
    feeds: Mapping[str, np.ndarray],
    *,
    baseline: str,
    backend: str = "ort-cpu",
    threads: int | None = None,
    warmup: int = 3,
    rounds: int = 5,
    iters: int = 5,
    seed: int = 0,
    spin: bool = True,
    clock: Callable[[], float] = time.perf_counter,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    group_bytes: int = GROUP_BYTES,
    min_block_ms: float = 0.0,
    min_total_ms: float = 0.0,
) -> dict[str, Timing]:
    """Time every model, interleaved, and return its :class:`Timing` (speed-ups against ``baseline``).

    Sessions run as they would be served: thread spinning on (``spin``; ONNX Runtime's and
    ``modelps serve``'s default). Spinning threads of the session just timed would steal the cores
    from the next one, so each model's block starts after a short pause and one untimed run.

    Models are timed in groups whose sessions fit ``group_bytes`` (each with the baseline, so
    every speed-up is still against a baseline timed in the same rounds). ``stop`` ends a group
    after its second round (the search's budget or the user's Cancel). ``min_block_ms`` raises
    ``iters`` so that each timed block of the baseline lasts at least that long (a sub-millisecond
    model timed 5 calls at a time is mostly noise: on a 0.5 ms U-Net the same INT8 kernels read
    1.58x to 2.02x in one run). ``min_total_ms`` raises ``rounds`` so that the baseline is timed
    at least that long in all (at most ``MAX_ROUNDS``): on such a model one block still reads
    anywhere from 0.9x to 2.8x, and only many rounds steady the median.

    Raises:
        ModelPSError: ``baseline`` is not one of ``models``.
    """
    if baseline not in models:
        raise ModelPSError(f"baseline {baseline!r} is not among the measured models")
    others = [key for key in models if key != baseline]
    groups: list[list[str]] = [[]]
    used = 0
    for key in others:
        if groups[-1] and used + _size(models[key]) > group_bytes:
            groups.append([])
            used = 0
        groups[-1].append(key)
        used += _size(models[key])
    samples: dict[str, list[list[float]]] = {}
    result: dict[str, Timing] = {}
    for number, group in enumerate(groups):
        keys = [baseline, *group]
        timed = _time_group(
            {k: models[k] for k in keys}, feeds, backend, threads, spin, warmup, rounds, iters, seed, clock,
            min_block_ms, min_total_ms,
            lambda r, of, n=number: progress(n * of + r, len(groups) * of) if progress else None, stop,
        )  # fmt: skip
        for key, per_round in timed.items():
            samples.setdefault(key, []).extend(per_round)
        result.update(summarize(timed, baseline))
    result[baseline] = summarize({baseline: samples[baseline]}, baseline)[baseline]
    return result


def _time_group(
    models: Mapping[str, Source],
    feeds: Mapping[str, np.ndarray],
    backend: str,
    threads: int | None,
    spin: bool,
    warmup: int,
    rounds: int,
    iters: int,
    seed: int,
    clock: Callable[[], float],
    min_block_ms: float,
    min_total_ms: float,
    progress: Callable[[int, int], None],
    stop: Callable[[], bool] | None,
) -> dict[str, list[list[float]]]:
    runners = {key: make_runner(backend, data, feeds, threads=threads, spin=spin) for key, data in models.items()}
    for runner in runners.values():
        for _ in range(warmup):
            runner()
    if min_block_ms > 0 or min_total_ms > 0:  # the same counts for every model, from the baseline's latency
        baseline_runner = next(iter(runners.values()))
        once = []
        for _ in range(3):
            start = clock()
            baseline_runner()
            once.append(clock() - start)
        once_ms = max(min(once) * 1000.0, 1e-3)
        iters = max(iters, min(MAX_ITERS, math.ceil(min_block_ms / once_ms)))
        rounds = max(rounds, min(MAX_ROUNDS, math.ceil(min_total_ms / (iters * once_ms))))
    samples: dict[str, list[list[float]]] = {key: [] for key in runners}
    rng = np.random.default_rng(seed)
    keys = list(runners)
    for r in range(rounds):
        for index in rng.permutation(len(keys)):
            key = keys[int(index)]
            runner = runners[key]
            if spin:
                time.sleep(SETTLE_S)
                runner()
            times = []
            for _ in range(iters):
                start = clock()
                runner()
                times.append((clock() - start) * 1000.0)
            samples[key].append(times)
        progress(r + 1, rounds)
        if stop is not None and r >= 1 and stop():
            break
    return samples


def summarize(samples: Mapping[str, Sequence[Sequence[float]]], baseline: str) -> dict[str, Timing]:
    """Turn per-round timings (ms) into :class:`Timing` results with interleaved speed-ups.

    Example::

        >>> t = summarize({"base": [[10, 10], [20, 20]], "fast": [[5, 5], [10, 10]]}, "base")
        >>> t["fast"].median_ms, t["fast"].speedup
        (7.5, 2.0)
    """
    base_rounds = [float(np.median(r)) for r in samples[baseline]]
    result = {}
    for key, rounds in samples.items():
        flat = np.array([t for r in rounds for t in r], dtype=np.float64)
        per_round = [float(np.median(r)) for r in rounds]
        ratios = np.array([b / c for b, c in zip(base_rounds, per_round, strict=False) if c > 0])
        result[key] = Timing(
            median_ms=float(np.median(flat)),
            p10_ms=float(np.percentile(flat, 10)),
            p90_ms=float(np.percentile(flat, 90)),
            runs=int(flat.size),
            speedup=float(np.median(ratios)) if ratios.size else 1.0,
            speedup_spread=(float(ratios.min()), float(ratios.max())) if ratios.size else (1.0, 1.0),
        )
    return result
