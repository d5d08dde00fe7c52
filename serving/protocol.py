"""Decoding and encoding Open Inference Protocol (KServe v2) inference messages.

Both JSON tensors and Triton's binary-tensor extension are handled: a request body may be a JSON
header of ``Inference-Header-Content-Length`` bytes followed by raw tensor bytes, one input after
another in the order of the inputs that carry ``parameters.binary_data_size``. Every check that a
client can fail raises :class:`ProtocolError` with the HTTP status and a message naming the problem.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import orjson

from serving.config import ModelConfig, TensorSpec
from serving.datatypes import to_numpy

__all__ = [
    "json_object",
    "InferRequest",
    "ProtocolError",
    "check_byte_size",
    "check_input",
    "decode_request",
    "encode_response",
    "error_body",
    "finish_request",
    "requested_outputs",
]


class ProtocolError(Exception):
    """A request the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass
class InferRequest:
    """A decoded, validated inference request.

    Attributes:
        inputs: Input arrays by name (views into the request body where possible).
        outputs: Requested output names, each with whether to send it as binary.
        batch: The request's batch size (1 when the model does not batch).
        id: The client's request id, echoed back.
    """

    inputs: dict[str, np.ndarray]
    outputs: list[tuple[str, bool]]
    batch: int
    id: str | None = None

    def batch_key(self) -> tuple[Any, ...]:
        """Return a key: requests with equal keys can be concatenated along the batch dimension."""
        shapes = tuple((n, a.shape[1:], a.dtype.str) for n, a in sorted(self.inputs.items()))
        return shapes, tuple(name for name, _ in self.outputs)


def error_body(message: str) -> bytes:
    """Return the JSON body of an error response (``{"error": message}``, what tritonclient reads)."""
    return orjson.dumps({"error": message})


def json_object(data: bytes | memoryview, not_object: str) -> dict[str, Any]:
    """Parse a JSON object, or raise a 400 :class:`ProtocolError` (``not_object`` when it is not one)."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(400, f"the request is not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ProtocolError(400, not_object)
    return parsed


def decode_request(body: bytes, header_length: str | None, config: ModelConfig) -> InferRequest:
    """Parse and validate an inference request body against the model config.

    Raises:
        ProtocolError: 400 with a message naming the input and the problem.
    """
    view = memoryview(body)
    if header_length is not None:
        try:
            size = int(header_length)
        except ValueError:
            raise ProtocolError(400, f"Inference-Header-Content-Length {header_length!r} is not an integer") from None
        if not 0 < size <= len(body):
            raise ProtocolError(
                400, f"Inference-Header-Content-Length {size} does not fit the {len(body)}-byte request body"
            )
        header_bytes, binary = view[:size], view[size:]
    else:
        header_bytes, binary = view, view[:0]
    header = json_object(header_bytes, "the request must be a JSON object with an 'inputs' list")
    raw_inputs = header.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise ProtocolError(400, "the request has no 'inputs' list")
    specs = {t.name: t for t in config.inputs}
    inputs: dict[str, np.ndarray] = {}
    offset = 0
    for item in raw_inputs:
        array, used = _decode_input(item, specs, binary, offset, config)
        offset += used
        inputs[item["name"]] = array
    if offset != len(binary):
        raise ProtocolError(
            400, f"the binary inputs declare {offset} bytes but the body carries {len(binary)} after the JSON header"
        )
    params = header.get("parameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError(400, "'parameters' must be a JSON object")
    outputs = requested_outputs(header.get("outputs"), bool(params.get("binary_data_output", False)), config)
    request_id = header.get("id")
    return finish_request(inputs, outputs, config, None if request_id is None else str(request_id))


def check_input(name: str, datatype: Any, shape: Any, specs: dict[str, TensorSpec], config: ModelConfig) -> np.dtype:
    """Check an input's name, datatype and shape against the model config; return its numpy dtype.

    Raises:
        ProtocolError: 400 naming the input and what is wrong with it.
    """
    spec = specs.get(name)
    if spec is None:
        raise ProtocolError(400, f"unknown input {name!r} for model {config.name!r}; inputs are {sorted(specs)}")
    if datatype != spec.datatype:
        raise ProtocolError(400, f"input {name!r}: datatype {datatype!r} does not match the model's {spec.datatype!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ProtocolError(400, f"input {name!r}: 'shape' must be a list of non-negative integers, not {shape!r}")
    _check_shape(name, shape, spec, config)
    return to_numpy(datatype)


def check_byte_size(name: str, size: Any, shape: list[int], datatype: str, dtype: np.dtype, what: str) -> int:
    """Check that ``size`` (``what``: where the client declared it) is the byte size of the shape.

    Raises:
        ProtocolError: 400 when the size is not a non-negative integer or does not match.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ProtocolError(400, f"input {name!r}: {what} must be a non-negative integer byte count, not {size!r}")
    expected = math.prod(shape) * dtype.itemsize
    if size != expected:
        raise ProtocolError(
            400, f"input {name!r}: {what} is {size} bytes but shape {shape} of {datatype} needs {expected}"
        )
    return size


def finish_request(
    inputs: dict[str, np.ndarray], outputs: list[tuple[str, bool]], config: ModelConfig, request_id: str | None
) -> InferRequest:
    """Check that every input is there and the batch sizes agree; return the request.

    Raises:
        ProtocolError: 400 for a missing input or a batch size the model cannot take.
    """
    missing = [t.name for t in config.inputs if t.name not in inputs]
    if missing:
        raise ProtocolError(400, f"missing input(s) {missing} for model {config.name!r}")
    return InferRequest(inputs, outputs, _check_batch(inputs, config), request_id)


def _decode_input(
    item: Any, specs: dict[str, TensorSpec], binary: memoryview, offset: int, config: ModelConfig
) -> tuple[np.ndarray, int]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ProtocolError(400, "each input needs a 'name'")
    name = item["name"]
    datatype, shape = item.get("datatype"), item.get("shape")
    dtype = check_input(name, datatype, shape, specs, config)
    params = item.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    if size is not None:
        check_byte_size(name, size, shape, datatype, dtype, "binary_data_size")
        if offset + size > len(binary):
            raise ProtocolError(
                400, f"input {name!r}: {size} bytes declared but only {len(binary) - offset} remain in the body"
            )
        array = np.frombuffer(binary[offset : offset + size], dtype=dtype).reshape(shape)
        return array, size
    data = item.get("data")
    if data is None:
        raise ProtocolError(400, f"input {name!r} has neither 'data' nor parameters.binary_data_size")
    try:
        array = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(400, f"input {name!r}: data cannot be read as {datatype} ({exc})") from None
    count = math.prod(shape)
    if array.size != count:
        raise ProtocolError(400, f"input {name!r}: shape {shape} needs {count} values but 'data' has {array.size}")
    return array.reshape(shape), 0


def _check_shape(name: str, shape: list[int], spec: TensorSpec, config: ModelConfig) -> None:
    expected = ([-1] if config.max_batch_size > 0 else []) + list(spec.dims)
    if len(shape) != len(expected) or any(e not in (-1, s) for e, s in zip(expected, shape, strict=True)):
        raise ProtocolError(400, f"input {name!r}: shape {shape} does not match the model's {expected} (-1: any size)")


def _check_batch(inputs: dict[str, np.ndarray], config: ModelConfig) -> int:
    if config.max_batch_size == 0:
        return 1
    sizes = {name: a.shape[0] for name, a in inputs.items()}
    batch = next(iter(sizes.values()))
    if any(size != batch for size in sizes.values()):
        raise ProtocolError(400, f"inputs disagree on the batch size (first dimension): {sizes}")
    if not 1 <= batch <= config.max_batch_size:
        raise ProtocolError(400, f"batch size {batch} is outside 1..{config.max_batch_size} (max_batch_size)")
    return batch


def requested_outputs(raw: Any, binary_default: bool, config: ModelConfig) -> list[tuple[str, bool]]:
    """Resolve the ``outputs`` list of a request (``None``: all) to ``(name, binary)`` pairs.

    Raises:
        ProtocolError: 400 for an unknown output name or a malformed list.
    """
    names = [t.name for t in config.outputs]
    if raw is None:
        return [(name, binary_default) for name in names]
    if not isinstance(raw, list):
        raise ProtocolError(400, "'outputs' must be a list")
    result = []
    for item in raw:
        if not isinstance(item, dict) or item.get("name") not in names:
            name = item.get("name") if isinstance(item, dict) else item
            raise ProtocolError(400, f"unknown output {name!r} for model {config.name!r}; outputs are {names}")
        params = item.get("parameters") or {}
        result.append((item["name"], bool(params.get("binary_data", binary_default))))
    return result


def encode_response(
    model: str, version: int, request: InferRequest, results: dict[str, np.ndarray], datatypes: dict[str, str]
) -> tuple[bytes, int | None]:
    """Build a response body; returns ``(body, header_length)`` (``None`` when it is plain JSON)."""
    outputs = []
    blobs: list[bytes] = []
    for name, binary in request.outputs:
        array = results[name]
        entry: dict[str, Any] = {"name": name, "datatype": datatypes[name], "shape": list(array.shape)}
        if binary:
            blob = np.ascontiguousarray(array).tobytes()
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            flat = np.ascontiguousarray(array).reshape(-1)
            entry["data"] = flat.astype(np.float32) if flat.dtype == np.float16 else flat
        outputs.append(entry)
    header: dict[str, Any] = {"model_name": model, "model_version": str(version), "outputs": outputs}
    if request.id is not None:
        header["id"] = request.id
    text = orjson.dumps(header, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return text, None
    return b"".join([text, *blobs]), len(text)
