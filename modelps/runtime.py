"""ONNX Runtime sessions and inputs for models held in memory."""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir

from modelps.errors import ComparisonError

__all__ = [
    "MAX_INPUT_ELEMENTS",
    "dropped_provider",
    "input_specs",
    "make_inputs",
    "open_session",
    "preload_gpu_libraries",
    "provider_name",
    "run",
    "session_for",
]

MAX_INPUT_ELEMENTS = 1 << 27
_INLINE_BYTES = 1_800_000_000


def session_for(model: ir.Model, *, threads: int | None = None, providers: list[str] | None = None) -> Any:
    """Build an ONNX Runtime session (CPU by default) for an in-memory model of any size."""
    import onnxruntime as ort

    from modelps.io import has_external_data, model_bytes, save, weight_bytes

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # basic (constant folding, redundant node removal) opens big models about twice as fast as the
    # layout transforms of ORT_ENABLE_ALL; these sessions check and measure, they are not served
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    providers = providers or ["CPUExecutionProvider"]
    if weight_bytes(model) < _INLINE_BYTES and not has_external_data(model):
        return open_session(ort, model_bytes(model), options, providers)[0]
    with tempfile.TemporaryDirectory(prefix="modelps-ort-") as folder:
        path = Path(folder, "model.onnx")
        save(model, path, external_data="model.onnx.data")
        return open_session(ort, str(path), options, providers)[0]


def open_session(
    ort: Any, source: bytes | str, options: Any, providers: Sequence[str | tuple[str, Any]]
) -> tuple[Any, str | None]:
    """Create an ``InferenceSession`` on ``providers``, GPU libraries preloaded first.

    Returns the session and what :func:`dropped_provider` says of it (None when the first
    requested provider is running).
    """
    preload_gpu_libraries(ort, providers)
    session = ort.InferenceSession(source, options, providers=list(providers))
    return session, dropped_provider(session, providers)


def provider_name(provider: str | tuple[str, Any]) -> str:
    """The name of an execution provider given as ``"Name"`` or ``("Name", options)``."""
    return provider if isinstance(provider, str) else provider[0]


def preload_gpu_libraries(ort: Any, providers: Sequence[str | tuple[str, Any]]) -> None:
    """Load pip-installed CUDA/cuDNN libraries (``nvidia-*`` wheels) before a GPU session is made.

    ``onnxruntime-gpu`` >= 1.21 finds them with ``preload_dlls``; older builds and CPU-only
    sessions are left alone, and libraries it cannot find are left to the system's loader path.
    """
    if all(provider_name(p) == "CPUExecutionProvider" for p in providers):
        return
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
            preload()


def dropped_provider(session: Any, providers: Sequence[str | tuple[str, Any]]) -> str | None:
    """Say so if ONNX Runtime silently fell back from the first requested provider, else None.

    ONNX Runtime lists the CUDA provider whenever the GPU build is installed, but a session falls
    back to the next provider (the CPU, in the end) when the CUDA or cuDNN libraries or the GPU
    are missing; timings and served outputs would then come from the wrong device.
    """
    wanted = provider_name(providers[0])
    active = session.get_providers()
    if wanted in active:
        return None
    needs = (
        "TensorRT's libraries (pip install --extra-index-url https://pypi.nvidia.com tensorrt)"
        if wanted == "TensorrtExecutionProvider"
        else "the CUDA/cuDNN libraries (pip install 'onnxruntime-gpu[cuda,cudnn]')"
    )
    return (
        f"ONNX Runtime could not start {wanted} and fell back to {active[0] if active else 'nothing'}; "
        f"check the GPU driver and {needs}"
    )


def input_specs(model: ir.Model) -> list[tuple[str, np.dtype, tuple[int | str | None, ...]]]:
    """Name, numpy dtype and shape (ints, symbolic names or None) of each non-initializer input."""
    specs = []
    for value in model.graph.inputs:
        if value.is_initializer() or value.name is None:
            continue
        if value.dtype is None:
            raise ComparisonError(f"input {value.name!r} has no declared element type")
        dims: tuple[int | str | None, ...] = ()
        if value.shape is not None:
            dims = tuple(
                d if isinstance(d, int) else (d.value if isinstance(d, ir.SymbolicDim) else None) for d in value.shape
            )
        specs.append((value.name, value.dtype.numpy(), dims))
    return specs


def make_inputs(
    model: ir.Model,
    *,
    seed: int = 0,
    batch: int = 1,
    dims: Mapping[str, int] | None = None,
    int_high: int = 8,
) -> dict[str, np.ndarray]:
    """Seeded random inputs for every model input; symbolic dims take ``dims[name]`` or ``batch``.

    Integer inputs are drawn from ``[0, int_high)`` (indices into a vocabulary, masks).

    Raises:
        ComparisonError: An input is larger than ``MAX_INPUT_ELEMENTS`` (e.g. a huge declared dim).
    """
    rng = np.random.default_rng(seed)
    dims = dict(dims or {})
    feeds: dict[str, np.ndarray] = {}
    for name, dtype, shape in input_specs(model):
        concrete = tuple(d if isinstance(d, int) and d >= 0 else dims.get(str(d), batch) for d in shape)
        count = int(np.prod(concrete, dtype=np.float64)) if concrete else 1
        if count > MAX_INPUT_ELEMENTS:
            raise ComparisonError(
                f"input {name!r} with shape {list(concrete)} has {count} elements; give inputs explicitly"
            )
        feeds[name] = _random(rng, dtype, concrete, int_high)
    return feeds


def _random(rng: np.random.Generator, dtype: np.dtype, shape: tuple[int, ...], int_high: int = 8) -> np.ndarray:
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, int_high, shape).astype(dtype)
    raise ComparisonError(f"cannot make random inputs of type {dtype}")


def run(model: ir.Model, feeds: Mapping[str, np.ndarray], *, outputs: list[str] | None = None) -> dict[str, np.ndarray]:
    """Run the model once on ONNX Runtime CPU and return outputs by name."""
    session = session_for(model)
    names = outputs or [o.name for o in session.get_outputs()]
    results = session.run(names, dict(feeds))
    return dict(zip(names, results, strict=True))
