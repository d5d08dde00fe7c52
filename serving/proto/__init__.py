"""The KServe v2 / Triton gRPC messages, built from ``inference.proto``'s checked-in descriptor.

The messages live in a private descriptor pool, so this module can share a process with
``tritonclient.grpc`` (whose generated code registers the same names in protobuf's default pool).

Example::

    >>> from serving import proto
    >>> proto.ModelReadyResponse(ready=True).ready
    True
    >>> proto.SERVICE
    'inference.GRPCInferenceService'
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from serving.proto._descriptor import SERIALIZED

SERVICE = "inference.GRPCInferenceService"
"""The full name of the gRPC service (method paths are ``/inference.GRPCInferenceService/NAME``)."""

_pool = descriptor_pool.DescriptorPool()
for _file in descriptor_pb2.FileDescriptorSet.FromString(SERIALIZED).file:
    _pool.Add(_file)
_FILE = _pool.FindFileByName("inference.proto")
_MESSAGES: dict[str, Any] = {
    name: message_factory.GetMessageClass(desc) for name, desc in _FILE.message_types_by_name.items()
}
globals().update(_MESSAGES)
DataType = _FILE.enum_types_by_name["DataType"]
"""The ``DataType`` enum descriptor (``DataType.values_by_name["TYPE_FP32"].number``)."""
METHODS = {m.name: m for m in _FILE.services_by_name["GRPCInferenceService"].methods}
"""The service's method descriptors by name (input/output message types, streaming flags)."""


def message_class(full_name: str) -> Any:
    """Return the message class of a (nested) message, e.g. ``"inference.ModelInferRequest"``."""
    return message_factory.GetMessageClass(_pool.FindMessageTypeByName(full_name))


__all__ = ["METHODS", "SERVICE", "DataType", "message_class", *sorted(_MESSAGES)]  # noqa: PLE0604
