"""Tensor data types of the Open Inference Protocol, Triton's model config and numpy."""

from __future__ import annotations

import numpy as np

__all__ = ["CONFIG_TO_WIRE", "WIRE_TO_CONFIG", "from_numpy", "to_numpy"]

_WIRE_TO_NUMPY: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
_NUMPY_TO_WIRE = {dtype: name for name, dtype in _WIRE_TO_NUMPY.items()}

WIRE_TO_CONFIG = {name: f"TYPE_{name}" for name in _WIRE_TO_NUMPY} | {"BYTES": "TYPE_STRING", "BF16": "TYPE_BF16"}
"""Wire datatype (``FP32``) to config ``data_type`` (``TYPE_FP32``)."""
CONFIG_TO_WIRE = {config: wire for wire, config in WIRE_TO_CONFIG.items()}
"""Config ``data_type`` (``TYPE_FP32``) to wire datatype (``FP32``)."""


def to_numpy(datatype: str) -> np.dtype:
    """Return the numpy dtype of a wire datatype such as ``"FP32"``.

    Raises:
        KeyError: The datatype is unknown or has no fixed-size numpy equivalent (``BYTES``, ``BF16``).

    Example::

        >>> to_numpy("FP16")
        dtype('float16')
    """
    return _WIRE_TO_NUMPY[datatype]


def from_numpy(dtype: np.dtype) -> str:
    """Return the wire datatype of a numpy dtype.

    Example::

        >>> from_numpy(np.dtype("int64"))
        'INT64'
    """
    return _NUMPY_TO_WIRE[np.dtype(dtype)]
