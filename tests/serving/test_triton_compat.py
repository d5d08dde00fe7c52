"""What ModelPS writes and speaks, checked against Triton's own definitions (tritonclient's generated protos)."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import descriptor, json_format, text_format
from tritonclient.grpc import model_config_pb2, service_pb2

import serving
from serving import proto
from serving.config import read_config
from tests.serving._serving_models import convnet, fixed, mlp

PUBLISHED = [
    ("plain", mlp, {}),
    ("dynamic-hw", convnet, {}),
    ("unbatched", fixed, {}),
    ("no-batching", mlp, {"dynamic_batching": False, "max_batch_size": 0}),
    ("queue", mlp, {"max_batch_size": 16, "queue_delay_us": 250, "max_queue_size": 9, "instances": 3}),
    ("ort-cuda", mlp, {"backend": "ort-cuda"}),
    ("ort-trt", mlp, {"backend": "ort-trt", "max_batch_size": 32}),
]


@pytest.mark.parametrize("make,options", [p[1:] for p in PUBLISHED], ids=[p[0] for p in PUBLISHED])
def test_published_config_parses_as_tritons_model_config(
    models_dir: Path, tmp_path: Path, make: object, options: dict
) -> None:
    result = serving.publish(make(models_dir / "m.onnx"), tmp_path / "repo", "m", **options)  # type: ignore[operator]
    text = (tmp_path / "repo" / "m" / "config.pbtxt").read_text()
    triton = text_format.Parse(text, model_config_pb2.ModelConfig())  # raises on anything Triton would not read
    ours = read_config(tmp_path / "repo" / "m" / "config.pbtxt")
    assert ours == result.config
    assert triton.name == ours.name and triton.platform == ours.platform
    assert triton.max_batch_size == ours.max_batch_size
    for tensors, specs in ((triton.input, ours.inputs), (triton.output, ours.outputs)):
        got = [(t.name, model_config_pb2.DataType.Name(t.data_type), tuple(t.dims)) for t in tensors]
        assert got == [(s.name, "TYPE_" + s.datatype, s.dims) for s in specs]
    assert sum(g.count for g in triton.instance_group) == ours.instance_count
    assert model_config_pb2.ModelInstanceGroup.Kind.Name(triton.instance_group[0].kind) == ours.instance_kind
    assert triton.HasField("dynamic_batching") == (ours.dynamic_batching is not None)
    if ours.dynamic_batching is not None:
        assert triton.dynamic_batching.max_queue_delay_microseconds == ours.dynamic_batching.max_queue_delay_us
        assert triton.dynamic_batching.default_queue_policy.max_queue_size == ours.dynamic_batching.max_queue_size
    accelerators = [a.name for a in triton.optimization.execution_accelerators.gpu_execution_accelerator]
    assert accelerators == ([ours.accelerator] if ours.accelerator else [])
    # the JSON the server answers with (HTTP /config, gRPC ModelConfig) is the same message
    assert json_format.ParseDict(ours.to_json(), model_config_pb2.ModelConfig()) == triton


def _fields(message: descriptor.Descriptor) -> dict[str, tuple[int, int, str]]:
    def kind(f: descriptor.FieldDescriptor) -> str:
        target = f.message_type or f.enum_type
        return target.name if target is not None else ""

    return {f.name: (f.number, f.type, kind(f)) for f in message.fields}


def _walk(message: descriptor.Descriptor) -> list[descriptor.Descriptor]:
    return [message, *(n for nested in message.nested_types for n in _walk(nested))]


def test_messages_are_wire_compatible_with_triton() -> None:
    triton = {**service_pb2.DESCRIPTOR.message_types_by_name, **model_config_pb2.DESCRIPTOR.message_types_by_name}
    checked = 0
    for name in proto.__all__:
        ours = getattr(proto, name, None)
        if not hasattr(ours, "DESCRIPTOR") or name not in triton:
            continue
        their_messages = {t.name: t for t in _walk(triton[name])}
        for mine in _walk(ours.DESCRIPTOR):
            theirs = their_messages[mine.name]
            mine_fields, their_fields = _fields(mine), _fields(theirs)
            for field, spec in mine_fields.items():
                assert their_fields.get(field) == spec, (
                    f"{mine.full_name}.{field}: ours {spec}, Triton's {their_fields.get(field)}"
                )
            checked += 1
    assert checked > 50
    service = service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert proto.SERVICE == service.full_name
    theirs = {m.name: (m.input_type.name, m.output_type.name, m.client_streaming) for m in service.methods}
    ours = {n: (m.input_type.name, m.output_type.name, m.client_streaming) for n, m in proto.METHODS.items()}
    assert ours == theirs


def test_checked_in_descriptor_matches_the_proto() -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools compiles the .proto (pip install grpcio-tools)")
    from serving.proto._descriptor import SERIALIZED
    from serving.proto.generate import compile_descriptor

    assert compile_descriptor() == SERIALIZED, "run python -m serving.proto.generate"
