"""The gRPC front, driven by tritonclient.grpc (sync and asyncio) and by Triton's own generated stub."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aioclient
import tritonclient.http as httpclient
from google.protobuf import json_format
from tritonclient.grpc import model_config_pb2, service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

import serving
from serving.api import GRPC_CODES
from tests.serving._cases import BAD_REQUESTS, reference

TOL = 1e-5


@pytest.fixture
def client(server: serving.ServerHandle) -> Iterator[grpcclient.InferenceServerClient]:
    assert server.grpc_url is not None
    c = grpcclient.InferenceServerClient(server.grpc_url)
    yield c
    c.close()


@pytest.fixture
def http(server: serving.ServerHandle) -> Iterator[httpclient.InferenceServerClient]:
    c = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    yield c
    c.close()


@pytest.fixture
def stub(server: serving.ServerHandle) -> Iterator[service_pb2_grpc.GRPCInferenceServiceStub]:
    """Triton's own generated stub, for requests tritonclient's helpers would not build."""
    assert server.grpc_url is not None
    with grpc.insecure_channel(server.grpc_url) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def _input(name: str, array: np.ndarray, datatype: str) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def _mlp_ok(client: grpcclient.InferenceServerClient) -> None:
    """A good request still works (the server keeps serving after a bad one)."""
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    assert client.infer("mlp", [_input("x", x, "FP32")]).as_numpy("z").tolist() == (2 * x).tolist()


def _code(exc: pytest.ExceptionInfo[InferenceServerException]) -> str:
    return str(exc.value.status()).removeprefix("StatusCode.")


def test_health_metadata_and_config(
    client: grpcclient.InferenceServerClient, http: httpclient.InferenceServerClient
) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("mlp") and client.is_model_ready("mlp", "1")
    assert not client.is_model_ready("nope") and not client.is_model_ready("mlp", "7")
    meta = client.get_server_metadata()
    assert meta.name == "modelps" and "binary_tensor_data" in meta.extensions and "statistics" in meta.extensions
    for name in ("mlp", "convnet", "fixed"):
        got = json_format.MessageToDict(client.get_model_metadata(name), preserving_proto_field_name=True)
        expected = http.get_model_metadata(name)
        for tensor in got["inputs"] + got["outputs"]:
            tensor["shape"] = [int(d) for d in tensor.get("shape", [])]
        assert got == expected
        config = json_format.ParseDict(http.get_model_config(name), model_config_pb2.ModelConfig())
        assert client.get_model_config(name).config == config
    assert client.get_model_metadata("mlp", "1").versions == ["1"]


@pytest.mark.parametrize(
    "model,shape,datatype", [("mlp", (3, 4), "FP32"), ("convnet", (2, 3, 7, 9), "FP32"), ("fixed", (3,), "INT32")]
)
def test_inference_matches_onnxruntime_and_http(
    client: grpcclient.InferenceServerClient, http: httpclient.InferenceServerClient, repo: Path,
    model: str, shape: tuple[int, ...], datatype: str,
) -> None:  # fmt: skip
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(shape) * 10).astype(np.float32 if datatype == "FP32" else np.int32)
    result = client.infer(model, [_input("x", x, datatype)], request_id="g-1")
    response = result.get_response()
    assert response.id == "g-1" and response.model_name == model and response.model_version == "1"
    http_input = httpclient.InferInput("x", list(shape), datatype)
    http_input.set_data_from_numpy(x, binary_data=True)
    over_http = http.infer(model, [http_input])
    expected = reference(repo / model / "1" / "model.onnx", {"x": x})
    for name, value in expected.items():
        got = result.as_numpy(name)
        assert got.dtype == value.dtype and got.shape == value.shape
        assert np.array_equal(got, over_http.as_numpy(name))  # both fronts answer the same bytes
        assert np.abs(got - value).max() <= TOL


def test_requested_outputs(client: grpcclient.InferenceServerClient) -> None:
    x = np.ones((1, 4), np.float32)
    result = client.infer("mlp", [_input("x", x, "FP32")], outputs=[grpcclient.InferRequestedOutput("z")])
    assert [o.name for o in result.get_response().outputs] == ["z"]
    assert result.as_numpy("z").tolist() == [[2, 2, 2, 2]] and result.as_numpy("y") is None


def test_typed_contents(stub: service_pb2_grpc.GRPCInferenceServiceStub) -> None:
    request = service_pb2.ModelInferRequest(model_name="mlp")
    tensor = request.inputs.add(name="x", datatype="FP32", shape=[2, 4])
    tensor.contents.fp32_contents.extend(range(8))
    response = stub.ModelInfer(request)
    z = np.frombuffer(response.raw_output_contents[1], np.float32).reshape(2, 4)
    assert z.tolist() == (2 * np.arange(8, dtype=np.float32).reshape(2, 4)).tolist()
    request = service_pb2.ModelInferRequest(model_name="fixed")
    request.inputs.add(name="x", datatype="INT32", shape=[3]).contents.int_contents.extend([1, -2, 7])
    response = stub.ModelInfer(request)
    assert np.frombuffer(response.raw_output_contents[0], np.int32).tolist() == [3, -6, 21]


@pytest.mark.parametrize("model,inputs,status,message", BAD_REQUESTS)
def test_bad_requests(
    client: grpcclient.InferenceServerClient, model: str, inputs: list, status: int, message: str
) -> None:
    tensors = [_input(name, array, datatype) for name, array, datatype in inputs]
    with pytest.raises(InferenceServerException) as exc:
        client.infer(model, tensors)
    assert _code(exc) == GRPC_CODES[status]
    assert message in exc.value.message()
    _mlp_ok(client)


def _raw_request(**fields: object) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name="mlp", **fields)  # type: ignore[arg-type]
    return request


def _x(request: service_pb2.ModelInferRequest, shape: list[int], datatype: str = "FP32") -> None:
    request.inputs.add(name="x", datatype=datatype, shape=shape)


RAW_CASES = [
    ("raw size", lambda r: (_x(r, [2, 4]), r.raw_input_contents.append(b"\0" * 31)), "INVALID_ARGUMENT",
     "input 'x': raw_input_contents[0] is 31 bytes but shape [2, 4] of FP32 needs 32"),
    ("raw count", lambda r: (_x(r, [1, 4]), r.raw_input_contents.extend([b"\0" * 16] * 2)), "INVALID_ARGUMENT",
     "raw_input_contents has 2 entries but the request has 1 inputs"),
    ("no inputs", lambda r: None, "INVALID_ARGUMENT", "the request has no inputs"),
    ("no data", lambda r: _x(r, [1, 4]), "INVALID_ARGUMENT", "input 'x' has neither contents nor raw_input_contents"),
    ("contents count", lambda r: (_x(r, [1, 4]), r.inputs[0].contents.fp32_contents.extend([1, 2, 3])),
     "INVALID_ARGUMENT", "input 'x': shape [1, 4] needs 4 values but fp32_contents has 3"),
    ("negative dim", lambda r: (_x(r, [-1, 4]), r.raw_input_contents.append(b"")), "INVALID_ARGUMENT",
     "input 'x': 'shape' must be a list of non-negative integers, not [-1, 4]"),
    ("twice", lambda r: (_x(r, [1, 4]), _x(r, [1, 4]), r.raw_input_contents.extend([b"\0" * 16] * 2)),
     "INVALID_ARGUMENT", "input 'x' is given twice"),
    ("unknown output", lambda r: (_x(r, [1, 4]), r.raw_input_contents.append(b"\0" * 16), r.outputs.add(name="w")),
     "INVALID_ARGUMENT", "unknown output 'w' for model 'mlp'; outputs are ['y', 'z']"),
    ("version", lambda r: (setattr(r, "model_version", "5"), _x(r, [1, 4]), r.raw_input_contents.append(b"\0" * 16)),
     "NOT_FOUND", "model 'mlp' has no version 5 loaded (served: [1])"),
    ("bad version", lambda r: setattr(r, "model_version", "one"), "INVALID_ARGUMENT",
     "model version 'one' is not an integer"),
]  # fmt: skip


@pytest.mark.parametrize("build,code,message", [c[1:] for c in RAW_CASES], ids=[c[0] for c in RAW_CASES])
def test_raw_protocol_errors(
    stub: service_pb2_grpc.GRPCInferenceServiceStub, client: grpcclient.InferenceServerClient,
    build: object, code: str, message: str,
) -> None:  # fmt: skip
    request = _raw_request()
    build(request)  # type: ignore[operator]
    with pytest.raises(grpc.RpcError) as exc:
        stub.ModelInfer(request)
    assert exc.value.code() == grpc.StatusCode[code]
    assert exc.value.details() == message
    _mlp_ok(client)


def test_streaming_is_unimplemented(stub: service_pb2_grpc.GRPCInferenceServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        list(stub.ModelStreamInfer(iter([_raw_request()])))
    assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "streaming inference is not supported" in exc.value.details()


def test_one_registry_for_both_protocols(
    client: grpcclient.InferenceServerClient, http: httpclient.InferenceServerClient
) -> None:
    index = {m.name: m for m in client.get_model_repository_index().models}
    assert index["mlp"].state == "READY" and index["convnet"].version == "1"
    client.unload_model("fixed")
    assert not http.is_model_ready("fixed") and not client.is_model_ready("fixed")
    with pytest.raises(InferenceServerException) as exc:
        client.infer("fixed", [_input("x", np.ones(3, np.int32), "INT32")])
    assert _code(exc) == "NOT_FOUND" and "it is in the repository but not loaded" in exc.value.message()
    assert {m.name: m.state for m in client.get_model_repository_index().models}["fixed"] == "UNAVAILABLE"
    http.load_model("fixed")
    assert client.is_model_ready("fixed")
    with pytest.raises(InferenceServerException) as exc:
        client.load_model("ghost")
    assert _code(exc) == "INVALID_ARGUMENT" and "no model named 'ghost'" in exc.value.message()
    with pytest.raises(InferenceServerException) as exc:
        client.unload_model("ghost")
    assert _code(exc) == "NOT_FOUND"


def test_statistics_count_both_protocols(
    client: grpcclient.InferenceServerClient, http: httpclient.InferenceServerClient
) -> None:
    def success() -> int:
        stats = http.get_inference_statistics("convnet")["model_stats"][0]
        grpc_stats = client.get_inference_statistics("convnet", as_json=True)["model_stats"][0]
        assert int(grpc_stats["inference_stats"]["success"]["count"]) == stats["inference_stats"]["success"]["count"]
        return stats["inference_stats"]["success"]["count"]

    before = success()
    x = np.ones((2, 3, 4, 4), np.float32)
    client.infer("convnet", [_input("x", x, "FP32")])
    http_input = httpclient.InferInput("x", [2, 3, 4, 4], "FP32")
    http_input.set_data_from_numpy(x)
    http.infer("convnet", [http_input])
    assert success() == before + 2
    stats = client.get_inference_statistics("convnet", "1").model_stats[0]
    assert stats.name == "convnet" and stats.version == "1" and stats.inference_count >= 4
    assert stats.execution_count >= 2 and stats.last_inference > 0 and stats.inference_stats.queue.count >= 2
    assert {b.batch_size for b in stats.batch_stats} >= {2}
    every = {s.name for s in client.get_inference_statistics().model_stats}
    assert {"mlp", "convnet", "fixed"} <= every
    with pytest.raises(InferenceServerException) as exc:
        client.get_inference_statistics("nope")
    assert _code(exc) == "NOT_FOUND"


def test_settings_and_shared_memory(client: grpcclient.InferenceServerClient) -> None:
    assert client.get_trace_settings(as_json=True)["settings"]["trace_level"] == {"value": ["OFF"]}
    assert client.get_trace_settings("mlp").settings["trace_level"].value == ["OFF"]
    with pytest.raises(InferenceServerException) as exc:
        client.update_trace_settings(settings={"trace_level": ["TIMESTAMPS"]})
    assert _code(exc) == "UNIMPLEMENTED"
    assert client.get_log_settings().settings["log_verbose_level"].uint32_param == 0
    updated = client.update_log_settings({"log_verbose_level": 1})
    assert updated.settings["log_verbose_level"].uint32_param == 1
    client.update_log_settings({"log_verbose_level": 0})
    assert not client.get_system_shared_memory_status().regions
    assert not client.get_cuda_shared_memory_status().regions
    with pytest.raises(InferenceServerException) as exc:
        client.register_system_shared_memory("r", "/key", 64)
    assert _code(exc) == "UNIMPLEMENTED" and "shared memory is not supported" in exc.value.message()
    client.unregister_system_shared_memory()
    client.unregister_cuda_shared_memory()
    _mlp_ok(client)


def test_asyncio_client(server: serving.ServerHandle, repo: Path) -> None:
    assert server.grpc_url is not None
    xs = [np.random.default_rng(i).standard_normal((1, 4)).astype(np.float32) for i in range(8)]

    async def go() -> list[np.ndarray]:
        c = aioclient.InferenceServerClient(server.grpc_url)
        try:
            assert await c.is_server_live() and await c.is_model_ready("mlp")
            assert (await c.get_model_metadata("mlp")).name == "mlp"
            with pytest.raises(InferenceServerException) as exc:
                await c.infer("nope", [_input("x", xs[0], "FP32")])
            assert _code(exc) == "NOT_FOUND"
            results = await asyncio.gather(*(c.infer("mlp", [_input("x", x, "FP32")]) for x in xs))
            return [r.as_numpy("y") for r in results]
        finally:
            await c.close()

    ys = asyncio.run(go())
    for x, y in zip(xs, ys, strict=True):
        assert np.abs(y - reference(repo / "mlp" / "1" / "model.onnx", {"x": x})["y"]).max() <= TOL


def test_limits_and_keys(repo: Path) -> None:
    with serving.start_background(repo, grpc_port=0, max_body_bytes=1000, api_key="k", models=("mlp",)) as handle:
        assert handle.grpc_url is not None
        c = grpcclient.InferenceServerClient(handle.grpc_url)
        with pytest.raises(InferenceServerException) as exc:
            c.infer("mlp", [_input("x", np.ones((8, 40), np.float32), "FP32")])
        assert _code(exc) == "RESOURCE_EXHAUSTED"
        with pytest.raises(InferenceServerException) as exc:
            c.unload_model("mlp")
        assert _code(exc) == "UNAUTHENTICATED" and "missing or wrong API key" in exc.value.message()
        c.unload_model("mlp", headers={"authorization": "Bearer k"})
        c.load_model("mlp", headers={"authorization": "Bearer k"})
        _mlp_ok(c)
        c.close()
    with serving.start_background(repo, grpc_port=0, api_key="k", auth_inference=True, models=("mlp",)) as handle:
        assert handle.grpc_url is not None
        c = grpcclient.InferenceServerClient(handle.grpc_url)
        x = np.ones((1, 4), np.float32)
        with pytest.raises(InferenceServerException) as exc:
            c.infer("mlp", [_input("x", x, "FP32")])
        assert _code(exc) == "UNAUTHENTICATED"
        assert c.infer("mlp", [_input("x", x, "FP32")], headers={"authorization": "Bearer k"}).as_numpy("z").shape == (
            1,
            4,
        )
        assert c.is_server_live()
        c.close()


def test_grpc_is_optional(repo: Path) -> None:
    with serving.start_background(repo, models=("mlp",)) as handle:
        assert handle.grpc_url is None
    with pytest.raises(serving.ServingError, match="give gRPC its own port"):
        serving.ServerSettings(repo=repo, port=8000, grpc_port=8000).check()


def test_grpc_port_in_use(repo: Path, server: serving.ServerHandle) -> None:
    assert server.grpc_url is not None
    port = int(server.grpc_url.rsplit(":", 1)[1])
    with pytest.raises(serving.ServingError, match="cannot listen for gRPC"):
        serving.start_background(repo, grpc_port=port, models=("mlp",))


@pytest.mark.slow
def test_full_queue_is_unavailable(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.serving._serving_models import slow

    serving.publish(slow(tmp_path / "slower.onnx", steps=48), tmp_path / "repo", "single", dynamic_batching=False)
    with serving.start_background(tmp_path / "repo", grpc_port=0, max_queue_size=1) as handle:
        assert handle.grpc_url is not None
        url = handle.grpc_url

        def one(i: int) -> np.ndarray | InferenceServerException:
            c = grpcclient.InferenceServerClient(url)
            try:
                return c.infer("single", [_input("x", np.full((1, 4), i, np.float32), "FP32")]).as_numpy("y")
            except InferenceServerException as exc:
                return exc
            finally:
                c.close()

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(8)))
        refused = [r for r in results if isinstance(r, InferenceServerException)]
        assert refused and len(refused) < len(results)
        for exc in refused:
            assert str(exc.status()) == "StatusCode.UNAVAILABLE"
            assert "model single:1: the request queue is full (1 waiting); retry later" in exc.message()
        assert isinstance(one(0), np.ndarray)  # still serving
