"""Decoding ``ModelInferRequest`` and encoding ``ModelInferResponse`` (KServe v2 over gRPC).

Inputs come either as raw little-endian bytes (``raw_input_contents``, what ``tritonclient.grpc``
sends) or as typed ``contents``; outputs always go back as ``raw_output_contents``, as Triton does.
The checks are the HTTP path's (:mod:`serving.protocol`), so both fronts refuse the same requests
with the same messages.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from google.protobuf import json_format

from serving import proto
from serving.config import ModelConfig
from serving.protocol import InferRequest, ProtocolError, check_byte_size, check_input, finish_request
from serving.protocol import requested_outputs as resolve_outputs

__all__ = ["decode_infer", "encode_infer", "from_dict"]

_CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
}


def decode_infer(message: Any, config: ModelConfig) -> InferRequest:
    """Validate a ``ModelInferRequest`` against the model config and return its arrays.

    Raises:
        ProtocolError: 400 naming the input and the problem.
    """
    raw = message.raw_input_contents
    tensors = message.inputs
    if not tensors:
        raise ProtocolError(400, "the request has no inputs")
    if raw and len(raw) != len(tensors):
        raise ProtocolError(400, f"raw_input_contents has {len(raw)} entries but the request has {len(tensors)} inputs")
    specs = {t.name: t for t in config.inputs}
    inputs: dict[str, np.ndarray] = {}
    for i, tensor in enumerate(tensors):
        name, datatype, shape = tensor.name, tensor.datatype, list(tensor.shape)
        dtype = check_input(name, datatype, shape, specs, config)
        if name in inputs:
            raise ProtocolError(400, f"input {name!r} is given twice")
        if raw:
            data = raw[i]
            check_byte_size(name, len(data), shape, datatype, dtype, f"raw_input_contents[{i}]")
            inputs[name] = np.frombuffer(data, dtype=dtype).reshape(shape)
        elif tensor.HasField("contents"):
            inputs[name] = _from_contents(name, datatype, dtype, shape, tensor.contents)
        else:
            raise ProtocolError(400, f"input {name!r} has neither contents nor raw_input_contents")
    requested = [{"name": o.name} for o in message.outputs] or None
    outputs = resolve_outputs(requested, True, config)
    return finish_request(inputs, outputs, config, message.id or None)


def _from_contents(name: str, datatype: str, dtype: np.dtype, shape: list[int], contents: Any) -> np.ndarray:
    field = _CONTENTS.get(datatype)
    if field is None:
        raise ProtocolError(400, f"input {name!r}: {datatype} tensors must be sent in raw_input_contents")
    values = getattr(contents, field)
    count = math.prod(shape)
    if len(values) != count:
        raise ProtocolError(400, f"input {name!r}: shape {shape} needs {count} values but {field} has {len(values)}")
    try:
        return np.array(values, dtype=dtype).reshape(shape)
    except OverflowError as exc:
        raise ProtocolError(400, f"input {name!r}: {field} cannot be read as {datatype} ({exc})") from None


def encode_infer(
    model: str, version: int, request: InferRequest, results: dict[str, np.ndarray], datatypes: dict[str, str]
) -> Any:
    """Build a ``ModelInferResponse`` with every requested output as raw bytes."""
    response = proto.ModelInferResponse(model_name=model, model_version=str(version), id=request.id or "")
    raw = response.raw_output_contents
    for name, _ in request.outputs:
        array = results[name]
        out = response.outputs.add()
        out.name = name
        out.datatype = datatypes[name]
        out.shape.extend(array.shape)
        raw.append(np.ascontiguousarray(array).tobytes())
    return response


def from_dict(data: Any, message_type: Any) -> Any:
    """Build a message from the JSON form the HTTP API answers with (unknown fields are dropped)."""
    return json_format.ParseDict(data, message_type(), ignore_unknown_fields=True)
