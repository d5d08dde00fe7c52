"""Native TensorRT backend: serialized engines run with device buffers managed here.

Needs ``tensorrt`` (>= 10) and ``cuda-python``; both are imported only when a runner activates.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from serving.config import TensorSpec
from serving.datatypes import from_numpy
from serving.errors import BackendUnavailableError
from serving.runners.base import InvalidInputError, Runner

__all__ = ["TRT_INSTALL", "CUDA_INSTALL", "TrtEngineLoader", "TrtRunner", "import_cudart", "import_tensorrt"]

logger = logging.getLogger(__name__)

TRT_INSTALL = "pip install --extra-index-url https://pypi.nvidia.com tensorrt"
CUDA_INSTALL = "pip install cuda-python"


def import_tensorrt() -> Any:
    """Import TensorRT.

    Raises:
        BackendUnavailableError: It is not installed; the message says how to install it.
    """
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendUnavailableError(f"TensorRT's Python package is missing ({exc}): {TRT_INSTALL}") from None
    return trt


def import_cudart() -> Any:
    """Import the CUDA runtime bindings of ``cuda-python`` (new or old module layout).

    Raises:
        BackendUnavailableError: cuda-python is not installed.
    """
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # cuda-python < 12.6
        except ImportError as exc:
            raise BackendUnavailableError(f"cuda-python is missing ({exc}): {CUDA_INSTALL}") from None
    return cudart


def check_cuda(cudart: Any, result: Any) -> Any:
    """Unpack a cuda-python call's ``(err, *values)`` tuple, raising on a CUDA error."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        raise RuntimeError(f"CUDA error {err}")
    return values[0] if len(values) == 1 else values


class TrtEngineLoader:
    """Lazily deserializes a TensorRT engine file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __call__(self) -> tuple[Any, Any]:
        """Return ``(tensorrt module, ICudaEngine)``."""
        trt = import_tensorrt()
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        engine = runtime.deserialize_cuda_engine(self.path.read_bytes())
        if engine is None:
            raise BackendUnavailableError(
                f"{self.path}: TensorRT could not deserialize the engine (built by another TensorRT version or GPU?)"
            )
        return trt, engine


class TrtRunner(Runner):
    """Runs a TensorRT engine with the TensorRT 10 name-based I/O API on one CUDA stream."""

    name = "tensorrt"

    def __init__(self, loader: TrtEngineLoader) -> None:
        super().__init__()
        self.loader = loader
        self._specs: tuple[list[TensorSpec], list[TensorSpec]] = ([], [])
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (device pointer, bytes)

    def _activate(self) -> None:
        self.cudart = import_cudart()
        self.trt, self.engine = self.loader()
        self.context = self.engine.create_execution_context()
        self.stream = check_cuda(self.cudart, self.cudart.cudaStreamCreate())
        inputs: list[TensorSpec] = []
        outputs: list[TensorSpec] = []
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            dtype = np.dtype(self.trt.nptype(self.engine.get_tensor_dtype(name)))
            spec = TensorSpec(name, from_numpy(dtype), tuple(self.engine.get_tensor_shape(name)))
            is_input = self.engine.get_tensor_mode(name) == self.trt.TensorIOMode.INPUT
            (inputs if is_input else outputs).append(spec)
        self._specs = (inputs, outputs)

    def _deactivate(self) -> None:
        for pointer, _ in self._buffers.values():
            self.cudart.cudaFree(pointer)
        self._buffers.clear()
        self.cudart.cudaStreamDestroy(self.stream)
        self.context = self.engine = None

    @property
    def inputs(self) -> list[TensorSpec]:
        """See :attr:`Runner.inputs`."""
        return self._specs[0]

    @property
    def outputs(self) -> list[TensorSpec]:
        """See :attr:`Runner.outputs`."""
        return self._specs[1]

    def _buffer(self, name: str, nbytes: int) -> int:
        pointer, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if pointer:
                check_cuda(self.cudart, self.cudart.cudaFree(pointer))
            pointer = check_cuda(self.cudart, self.cudart.cudaMalloc(max(nbytes, 1)))
            self._buffers[name] = (pointer, nbytes)
        return pointer

    def infer(self, feeds: Mapping[str, np.ndarray], output_names: Sequence[str]) -> dict[str, np.ndarray]:
        """Copy inputs to the device, execute on the stream, copy outputs back."""
        cudart = self.cudart
        h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for spec in self.inputs:
            array = np.ascontiguousarray(feeds[spec.name])
            if not self.context.set_input_shape(spec.name, array.shape):
                raise InvalidInputError(
                    f"input {spec.name!r}: shape {list(array.shape)} is outside the engine's profile"
                )
            pointer = self._buffer(spec.name, array.nbytes)
            check_cuda(cudart, cudart.cudaMemcpyAsync(pointer, array.ctypes.data, array.nbytes, h2d, self.stream))
            self.context.set_tensor_address(spec.name, pointer)
        results: dict[str, np.ndarray] = {}
        for spec in self.outputs:
            shape = tuple(self.context.get_tensor_shape(spec.name))
            results[spec.name] = np.empty(
                shape, dtype=np.dtype(self.trt.nptype(self.engine.get_tensor_dtype(spec.name)))
            )
            self.context.set_tensor_address(spec.name, self._buffer(spec.name, results[spec.name].nbytes))
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError("TensorRT execution failed")
        for name, array in results.items():
            pointer = self._buffers[name][0]
            check_cuda(cudart, cudart.cudaMemcpyAsync(array.ctypes.data, pointer, array.nbytes, d2h, self.stream))
        check_cuda(cudart, cudart.cudaStreamSynchronize(self.stream))
        return {name: results[name] for name in output_names}
