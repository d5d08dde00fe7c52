"""TensorRT INT8 entropy calibrator fed from calibration batches (imported only for INT8 builds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["make_calibrator"]


def make_calibrator(trt: Any, batches: Iterator[dict[str, np.ndarray]], cache: Path) -> Any:
    """Make an ``IInt8EntropyCalibrator2`` that copies each batch to device buffers it owns."""
    from serving.runners.tensorrt import check_cuda, import_cudart

    cudart = import_cudart()

    class _Calibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.batches = batches
            self.first = next(self.batches, None)
            self.buffers: dict[str, tuple[int, int]] = {}
            self.size = 0 if self.first is None else int(next(iter(self.first.values())).shape[0])

        def get_batch_size(self) -> int:
            return self.size

        def get_batch(self, names: list[str]) -> list[int] | None:
            batch, self.first = self.first, None
            if batch is None:
                batch = next(self.batches, None)
            if batch is None:
                return None
            pointers = []
            for name in names:
                array = np.ascontiguousarray(batch[name])
                pointer, size = self.buffers.get(name, (0, 0))
                if size < array.nbytes:
                    pointer = check_cuda(cudart, cudart.cudaMalloc(array.nbytes))
                    self.buffers[name] = (pointer, array.nbytes)
                kind = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
                check_cuda(cudart, cudart.cudaMemcpy(pointer, array.ctypes.data, array.nbytes, kind))
                pointers.append(int(pointer))
            return pointers

        def read_calibration_cache(self) -> bytes | None:
            return cache.read_bytes() if cache.is_file() else None

        def write_calibration_cache(self, data: Any) -> None:
            cache.write_bytes(bytes(data))

    return _Calibrator()
