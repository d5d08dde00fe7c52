"""Loading and saving ONNX models safely.

:func:`load` reads a single-file model or one with external data into an ``onnx_ir`` model whose
external weights are memory-mapped, after checking every external-data reference:

* the location is relative, has no ``..`` component, and its real path (symlinks resolved) stays
  inside the model's folder;
* only the keys ``location``, ``offset``, ``length`` and ``checksum`` appear;
* ``offset`` and ``length`` are non-negative integers and lie within the data file, and the
  length matches the tensor's declared shape and type;
* the data file exists and is a regular file.

Inline tensors are checked too: their declared shape must match the bytes they carry, so a tensor
declaring a huge shape is refused before anything is allocated. Nothing outside the model's folder
is ever opened, and :func:`save` never follows a symlink or writes outside the target folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import onnx
import onnx_ir as ir
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, EncodeError, Message

from modelps.errors import ModelLoadError, ModelSaveError, UnsafeModelError, first_line

__all__ = [
    "file_sha256",
    "has_external_data",
    "inlined_weights",
    "load",
    "load_proto",
    "model_bytes",
    "save",
    "weight_bytes",
]

logger = logging.getLogger(__name__)

_EXTERNAL_KEYS = frozenset({"location", "offset", "length", "checksum"})
_FIXED_SIZES = {
    onnx.TensorProto.FLOAT: 4,
    onnx.TensorProto.UINT8: 1,
    onnx.TensorProto.INT8: 1,
    onnx.TensorProto.UINT16: 2,
    onnx.TensorProto.INT16: 2,
    onnx.TensorProto.INT32: 4,
    onnx.TensorProto.INT64: 8,
    onnx.TensorProto.BOOL: 1,
    onnx.TensorProto.FLOAT16: 2,
    onnx.TensorProto.DOUBLE: 8,
    onnx.TensorProto.UINT32: 4,
    onnx.TensorProto.UINT64: 8,
    onnx.TensorProto.COMPLEX64: 8,
    onnx.TensorProto.COMPLEX128: 16,
    onnx.TensorProto.BFLOAT16: 2,
}
_MAX_ELEMENTS = 1 << 40


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_proto(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Parse a model file without loading external data, then check it is safe to use.

    Raises:
        ModelLoadError: The file is missing, empty, truncated or not an ONNX model.
        UnsafeModelError: A tensor's data reference is unsafe or inconsistent.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model file")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"{path}: the file is empty")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        raise ModelLoadError(f"{path}: not a valid ONNX model ({first_line(exc, 1)})") from exc
    _check_parsed(proto, path)
    check_tensors(proto, path.parent)
    return proto


def load(path: str | os.PathLike[str]) -> ir.Model:
    """Load a model into ``onnx_ir`` with external data memory-mapped, after :func:`load_proto`."""
    path = Path(path)
    proto = load_proto(path)
    try:
        model = ir.serde.deserialize_model(proto)
    except Exception as exc:  # onnx_ir raises many types on inconsistent protos
        raise ModelLoadError(f"{path}: cannot read the model graph ({first_line(exc, 1)})") from exc
    ir.external_data.set_base_dir(model.graph, str(path.parent.resolve()))
    return model


def model_bytes(model: ir.Model) -> bytes:
    """Serialize a model deterministically, external weights inlined (equal models give equal bytes)."""
    with inlined_weights(model):
        return ir.to_proto(model).SerializeToString(deterministic=True)


def has_external_data(model: ir.Model) -> bool:
    """Whether any initializer of the model still refers to an external data file."""
    return any(
        isinstance(value.const_value, ir.ExternalTensor)
        for graph in model.graphs()
        for value in graph.initializers.values()
    )


@contextlib.contextmanager
def inlined_weights(model: ir.Model) -> Iterator[None]:
    """Temporarily replace external (memory-mapped) initializers by in-memory tensors."""
    swapped: list[tuple[ir.Value, ir.TensorProtocol]] = []
    try:
        for graph in model.graphs():
            for value in graph.initializers.values():
                tensor = value.const_value
                if isinstance(tensor, ir.ExternalTensor):
                    swapped.append((value, tensor))
                    value.const_value = ir.Tensor(tensor.numpy(), name=tensor.name)
        yield
    finally:
        for value, tensor in swapped:
            value.const_value = tensor


def save(
    model: ir.Model,
    path: str | os.PathLike[str],
    *,
    external_data: str | None = None,
    size_threshold_bytes: int = 1024,
) -> Path:
    """Save a model; with ``external_data``, large tensors go to that file beside it.

    Models whose weights exceed protobuf's 2 GB limit must be saved with external data;
    ``external_data`` must be a plain file name (no folders, no ``..``).

    Raises:
        ModelSaveError: The target or data name is unsafe, or the model is too large inline.
    """
    path = Path(path)
    _refuse_symlink(path)
    if external_data is not None:
        if Path(external_data).name != external_data or external_data in {".", ".."}:
            raise ModelSaveError(f"external data name {external_data!r} must be a plain file name")
        _refuse_symlink(path.parent / external_data)
    path.parent.mkdir(parents=True, exist_ok=True)
    if external_data is None:
        data = model_bytes_or_error(model)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path
    try:
        ir.save(model, str(path), external_data=external_data, size_threshold_bytes=size_threshold_bytes)
    except (ValueError, OSError) as exc:
        raise ModelSaveError(f"{path}: {first_line(exc, 1)}") from exc
    return path


_PROTOBUF_LIMIT = 2**31 - 1


def weight_bytes(model: ir.Model) -> int:
    """Total bytes of every initializer in the model, subgraphs included."""
    return sum(
        value.const_value.nbytes
        for graph in model.graphs()
        for value in graph.initializers.values()
        if value.const_value is not None
    )


def model_bytes_or_error(model: ir.Model) -> bytes:
    """Like :func:`model_bytes`, with a clear error for models over protobuf's 2 GB limit."""
    size = weight_bytes(model)
    if size >= _PROTOBUF_LIMIT:
        raise ModelSaveError(
            f"the model is too large for one file ({size / 2**30:.2f} GiB of weights, protobuf's limit is 2 GiB); "
            "save it with external data"
        )
    try:
        return model_bytes(model)
    except (ValueError, EncodeError) as exc:
        raise ModelSaveError(
            f"the model is too large for one file ({first_line(exc, 1)}); save it with external data"
        ) from exc


_TENSOR_TYPES = frozenset(onnx.TensorProto.DataType.values()) - {onnx.TensorProto.UNDEFINED}


def check_tensors(proto: onnx.ModelProto, model_dir: Path) -> None:
    """Check every tensor in ``proto`` (initializers, attributes, subgraphs) for safety."""
    real_dir = model_dir.resolve()
    for tensor, where in iter_tensors(proto):
        if tensor.data_type not in _TENSOR_TYPES:
            raise ModelLoadError(f"{where}: not a valid tensor (element type {tensor.data_type} is undefined)")
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            _check_external(tensor, where, real_dir)
        else:
            _check_inline(tensor, where)


def iter_tensors(proto: onnx.ModelProto) -> Iterator[tuple[onnx.TensorProto, str]]:
    """Yield each tensor of a model with a description of where it sits."""
    yield from _graph_tensors(proto.graph)
    for function in proto.functions:
        for node in function.node:
            yield from _node_tensors(node)


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[tuple[onnx.TensorProto, str]]:
    for tensor in graph.initializer:
        yield tensor, f"initializer {tensor.name!r}"
    for sparse in graph.sparse_initializer:
        yield sparse.values, f"sparse initializer {sparse.values.name!r}"
        yield sparse.indices, f"sparse initializer {sparse.values.name!r} indices"
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: onnx.NodeProto) -> Iterator[tuple[onnx.TensorProto, str]]:
    for attr in node.attribute:
        where = f"attribute {attr.name!r} of node {node.name or node.op_type!r}"
        if attr.HasField("t"):
            yield attr.t, where
        for tensor in attr.tensors:
            yield tensor, where
        if attr.HasField("g"):
            yield from _graph_tensors(attr.g)
        for sub in attr.graphs:
            yield from _graph_tensors(sub)


def _element_count(tensor: onnx.TensorProto, where: str) -> int:
    count = 1
    for dim in tensor.dims:
        if dim < 0:
            raise UnsafeModelError(f"{where}: negative dimension {dim}")
        count *= dim
        if count > _MAX_ELEMENTS:
            raise UnsafeModelError(f"{where}: declared shape {list(tensor.dims)} is implausibly large")
    return count


def _check_inline(tensor: onnx.TensorProto, where: str) -> None:
    count = _element_count(tensor, where)
    size = _FIXED_SIZES.get(tensor.data_type)
    if tensor.HasField("raw_data") and size is not None and len(tensor.raw_data) != count * size:
        raise UnsafeModelError(
            f"{where}: shape {list(tensor.dims)} needs {count * size} bytes "
            f"but the tensor carries {len(tensor.raw_data)}"
        )


def _check_external(tensor: onnx.TensorProto, where: str, real_dir: Path) -> None:
    entries = {entry.key: entry.value for entry in tensor.external_data}
    unknown = sorted(set(entries) - _EXTERNAL_KEYS)
    if unknown:
        raise UnsafeModelError(f"{where}: unknown external-data key(s) {unknown}")
    location = entries.get("location")
    if not location:
        raise UnsafeModelError(f"{where}: external data without a location")
    data_path = _safe_location(location, real_dir, where)
    offset = _non_negative_int(entries.get("offset", "0"), "offset", where)
    file_size = data_path.stat().st_size
    count = _element_count(tensor, where)
    size = _FIXED_SIZES.get(tensor.data_type)
    default_length = file_size - offset if size is None else count * size
    length = _non_negative_int(entries.get("length", str(default_length)), "length", where)
    if offset + length > file_size:
        raise UnsafeModelError(
            f"{where}: bytes {offset}..{offset + length} lie beyond the end of {location!r} ({file_size} bytes)"
        )
    if size is not None and length != count * size:
        raise UnsafeModelError(f"{where}: shape {list(tensor.dims)} needs {count * size} bytes but length is {length}")


def _safe_location(location: str, real_dir: Path, where: str) -> Path:
    if "\x00" in location:
        raise UnsafeModelError(f"{where}: external-data location contains a NUL byte")
    normalized = location.replace("\\", "/")
    if os.path.isabs(location) or normalized.startswith("/") or (len(location) > 1 and location[1] == ":"):
        raise UnsafeModelError(f"{where}: external-data location {location!r} is an absolute path")
    if ".." in normalized.split("/"):
        raise UnsafeModelError(f"{where}: external-data location {location!r} leaves the model's folder")
    candidate = real_dir / normalized
    resolved = candidate.resolve()
    if resolved != real_dir and real_dir not in resolved.parents:
        raise UnsafeModelError(f"{where}: external-data location {location!r} resolves outside the model's folder")
    try:
        mode = candidate.lstat().st_mode
    except FileNotFoundError:
        raise UnsafeModelError(f"{where}: external-data file {location!r} does not exist") from None
    if stat.S_ISLNK(mode):
        raise UnsafeModelError(f"{where}: external-data file {location!r} is a symbolic link")
    if not stat.S_ISREG(mode):
        raise UnsafeModelError(f"{where}: external-data location {location!r} is not a regular file")
    return candidate


def _non_negative_int(text: str, key: str, where: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UnsafeModelError(f"{where}: external-data {key} {text!r} is not an integer") from None
    if value < 0:
        raise UnsafeModelError(f"{where}: external-data {key} {value} is negative")
    return value


def _check_parsed(proto: onnx.ModelProto, path: Path) -> None:
    if not proto.HasField("graph"):
        raise ModelLoadError(f"{path}: not a valid ONNX model (no graph; truncated or another format?)")
    if proto.ir_version <= 0:
        raise ModelLoadError(f"{path}: not a valid ONNX model (missing ir_version)")
    if not proto.graph.output:
        raise ModelLoadError(f"{path}: the graph has no outputs (truncated file?)")
    _check_text(proto, path)


_ATTRIBUTE_TYPES = frozenset(onnx.AttributeProto.AttributeType.values()) - {onnx.AttributeProto.UNDEFINED}


def _check_text(proto: onnx.ModelProto, path: Path) -> None:
    """Refuse text fields that are not UTF-8 and attributes of no known type (nothing could save them).

    Protobuf hands invalid UTF-8 over as ``bytes``; every string field of every message is checked
    (names, dims, domains, metadata), not the weights themselves.
    """
    pending: list[Message] = [proto]
    while pending:
        message = pending.pop()
        if isinstance(message, onnx.AttributeProto):
            _check_attribute(message, path)
        for field, value in message.ListFields():
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                pending.extend(value if _repeated(field) else [value])
            elif field.type == FieldDescriptor.TYPE_STRING:
                for text in value if _repeated(field) else [value]:
                    if not isinstance(text, str):
                        raise ModelLoadError(
                            f"{path}: not a valid ONNX model (a {field.name} is not UTF-8 text: {bytes(text)[:40]!r})"
                        )


_ATTRIBUTE_FIELDS = {
    onnx.AttributeProto.TENSOR: "t",
    onnx.AttributeProto.GRAPH: "g",
    onnx.AttributeProto.SPARSE_TENSOR: "sparse_tensor",
    onnx.AttributeProto.TYPE_PROTO: "tp",
}


def _check_attribute(attr: onnx.AttributeProto, path: Path) -> None:
    """An attribute must have a known type and, for one-message types, carry that message."""
    if attr.type not in _ATTRIBUTE_TYPES:
        raise ModelLoadError(f"{path}: not a valid ONNX model (attribute {attr.name!r} has no valid type: {attr.type})")
    field = _ATTRIBUTE_FIELDS.get(attr.type)
    if field is not None and not attr.ref_attr_name and not attr.HasField(field):
        kind = onnx.AttributeProto.AttributeType.Name(attr.type)
        raise ModelLoadError(f"{path}: not a valid ONNX model (attribute {attr.name!r} is a {kind} without one)")


def _repeated(field: FieldDescriptor) -> bool:
    return bool(getattr(field, "is_repeated", field.label == FieldDescriptor.LABEL_REPEATED))


def _refuse_symlink(path: Path) -> None:
    if path.is_symlink():
        raise ModelSaveError(f"{path}: refusing to write through a symbolic link")
