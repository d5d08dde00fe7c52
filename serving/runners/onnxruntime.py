"""ONNX Runtime backend: CPU (``onnxruntime``) and CUDA / TensorRT execution providers (``onnxruntime-gpu``)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelps.runtime import open_session, provider_name
from serving.config import TensorSpec
from serving.errors import BackendUnavailableError
from serving.runners.base import InvalidInputError, Runner

__all__ = ["OrtSessionLoader", "OrtRunner", "OrtSettings", "import_onnxruntime", "providers_for"]

logger = logging.getLogger(__name__)

_ORT_TYPES = {
    "tensor(bool)": "BOOL", "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16", "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64", "tensor(int8)": "INT8", "tensor(int16)": "INT16", "tensor(int32)": "INT32",
    "tensor(int64)": "INT64", "tensor(float16)": "FP16", "tensor(float)": "FP32", "tensor(double)": "FP64",
    "tensor(string)": "BYTES", "tensor(bfloat16)": "BF16",
}  # fmt: skip
GPU_INSTALL = "pip uninstall -y onnxruntime && pip install onnxruntime-gpu (the GPU build replaces the CPU one)"


@dataclasses.dataclass(frozen=True)
class OrtSettings:
    """ONNX Runtime session options the server exposes.

    Attributes:
        intra_op_threads: Threads for one operator (``None``: the server decides, see
            :func:`serving.runners.runners_for`; ORT's own default is one per core).
        inter_op_threads: Threads across independent operators (``None``: ORT's default).
        spin: Let idle ORT threads spin-wait. Off by default: on a machine shared with other work,
            spinning threads burn the time slices the next operator needs (measured: a 2-thread
            MobileFaceNet session ran 1.5-2.6x faster without spinning at load average 11).
        graph_optimization: ``disable``, ``basic``, ``extended`` or ``all``.
    """

    intra_op_threads: int | None = None
    inter_op_threads: int | None = None
    spin: bool = False
    graph_optimization: str = "all"


def import_onnxruntime(gpu: bool = False) -> Any:
    """Import ``onnxruntime``; with ``gpu``, check the CUDA provider exists.

    Raises:
        BackendUnavailableError: The package or provider is missing, with how to install it.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        package = "onnxruntime-gpu" if gpu else "onnxruntime"
        raise BackendUnavailableError(f"ONNX Runtime is not installed: pip install {package}") from None
    if gpu and "CUDAExecutionProvider" not in ort.get_available_providers():
        raise BackendUnavailableError(
            f"this onnxruntime ({ort.__version__}) has no CUDAExecutionProvider: {GPU_INSTALL}"
        )
    return ort


def providers_for(kind: str, accelerator: str | None, options: Mapping[str, Any] | None = None) -> list[Any]:
    """List execution providers for a config's instance kind and accelerator, in priority order.

    Example::

        >>> providers_for("KIND_CPU", None)
        ['CPUExecutionProvider']
        >>> providers_for("KIND_GPU", "tensorrt")[0][0]
        'TensorrtExecutionProvider'
    """
    if kind != "KIND_GPU":
        return ["CPUExecutionProvider"]
    providers: list[Any] = []
    if accelerator == "tensorrt":
        providers.append(("TensorrtExecutionProvider", dict(options or {})))
    providers += ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return providers


def session_options(ort: Any, settings: OrtSettings) -> Any:
    """Build ``ort.SessionOptions`` from :class:`OrtSettings`."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if settings.intra_op_threads is not None:
        options.intra_op_num_threads = settings.intra_op_threads
    if settings.inter_op_threads is not None:
        options.inter_op_num_threads = settings.inter_op_threads
    spin = "1" if settings.spin else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    options.graph_optimization_level = levels[settings.graph_optimization]
    return options


class OrtSessionLoader:
    """Lazily creates an ``onnxruntime.InferenceSession`` for a model file.

    With ``shared=True`` every call returns the same session: several runners (model instances)
    then run concurrently on one session (``InferenceSession.run`` is thread-safe) without loading
    the weights again.
    """

    def __init__(
        self,
        path: str | Path,
        providers: list[Any] | None = None,
        settings: OrtSettings | None = None,
        *,
        shared: bool = False,
    ) -> None:
        self.path = Path(path)
        self.providers = providers or ["CPUExecutionProvider"]
        self.settings = settings or OrtSettings()
        self.shared = shared
        self._session: Any = None

    def __call__(self) -> Any:
        """Create the session (or return the shared one).

        Raises:
            BackendUnavailableError: onnxruntime (or its GPU build) is missing.
        """
        if self.shared and self._session is not None:
            return self._session
        gpu = any(provider_name(p) != "CPUExecutionProvider" for p in self.providers)
        ort = import_onnxruntime(gpu=gpu)
        session, fallback = open_session(ort, str(self.path), session_options(ort, self.settings), self.providers)
        if fallback is not None:
            raise BackendUnavailableError(f"{self.path.name}: {fallback}")
        logger.info("loaded %s with %s", self.path, session.get_providers())
        if self.shared:
            self._session = session
        return session


class OrtRunner(Runner):
    """Runs a model through an ONNX Runtime session."""

    name = "onnxruntime"

    def __init__(self, loader: OrtSessionLoader) -> None:
        super().__init__()
        self.loader = loader
        self.session: Any = None
        self._invalid: tuple[type[BaseException], ...] = ()

    def _activate(self) -> None:
        self.session = self.loader()
        from onnxruntime.capi import onnxruntime_pybind11_state as state

        self._invalid = (state.InvalidArgument, state.Fail, state.InvalidGraph)

    def _deactivate(self) -> None:
        self.session = None

    @property
    def inputs(self) -> list[TensorSpec]:
        """See :attr:`Runner.inputs`."""
        return [_spec(v) for v in self.session.get_inputs()]

    @property
    def outputs(self) -> list[TensorSpec]:
        """See :attr:`Runner.outputs`."""
        return [_spec(v) for v in self.session.get_outputs()]

    def infer(self, feeds: Mapping[str, np.ndarray], output_names: Sequence[str]) -> dict[str, np.ndarray]:
        """See :meth:`Runner.infer`."""
        try:
            results = self.session.run(list(output_names), dict(feeds))
        except self._invalid as exc:
            raise InvalidInputError(str(exc).strip().splitlines()[-1]) from exc
        return dict(zip(output_names, results, strict=True))


def _spec(value: Any) -> TensorSpec:
    dims = tuple(d if isinstance(d, int) else -1 for d in (value.shape or []))
    return TensorSpec(value.name, _ORT_TYPES.get(value.type, value.type), dims)
