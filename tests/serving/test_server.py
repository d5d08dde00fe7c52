"""The HTTP server, driven by tritonclient against a real server on a free loopback port."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

import serving
from serving.errors import ServingError
from serving.settings import ServerSettings
from tests.serving._cases import BAD_REQUESTS, reference
from tests.serving._serving_models import fixed, slow

TOL = 1e-5


@pytest.fixture
def client(server: serving.ServerHandle) -> Iterator[httpclient.InferenceServerClient]:
    c = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    yield c
    c.close()


def _input(name: str, array: np.ndarray, datatype: str, binary: bool) -> httpclient.InferInput:
    tensor = httpclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def _mlp_ok(client: httpclient.InferenceServerClient, repo: Path) -> None:
    """A good request still works (the server keeps serving after a bad one)."""
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    result = client.infer("mlp", [_input("x", x, "FP32", True)])
    expected = reference(repo / "mlp" / "1" / "model.onnx", {"x": x})
    assert np.abs(result.as_numpy("y") - expected["y"]).max() < TOL


def test_health_and_server_metadata(client: httpclient.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == "modelps"
    assert "binary_tensor_data" in meta["extensions"]


def test_model_metadata_and_config(client: httpclient.InferenceServerClient) -> None:
    meta = client.get_model_metadata("convnet")
    assert meta["versions"] == ["1"]
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3, -1, -1]}]
    assert [o["name"] for o in meta["outputs"]] == ["feat", "pooled"]
    assert client.is_model_ready("convnet")
    assert client.is_model_ready("convnet", "1")
    assert client.get_model_metadata("fixed")["inputs"] == [{"name": "x", "datatype": "INT32", "shape": [3]}]
    config = client.get_model_config("mlp")
    assert config["max_batch_size"] == 8
    assert config["dynamic_batching"] == {"max_queue_delay_microseconds": 0}


@pytest.mark.parametrize("binary", [False, True])
def test_inference_matches_onnxruntime(client: httpclient.InferenceServerClient, repo: Path, binary: bool) -> None:
    x = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("y", "z")]
    result = client.infer("mlp", [_input("x", x, "FP32", binary)], outputs=outputs, request_id="r-7")
    expected = reference(repo / "mlp" / "1" / "model.onnx", {"x": x})
    for name in ("y", "z"):
        assert result.as_numpy(name).shape == expected[name].shape
        assert np.abs(result.as_numpy(name) - expected[name]).max() < TOL
    response = result.get_response()
    assert response["id"] == "r-7"
    assert response["model_version"] == "1"
    assert ("parameters" in response["outputs"][0]) is binary


def test_default_outputs_are_binary(client: httpclient.InferenceServerClient, repo: Path) -> None:
    x = np.ones((1, 4), np.float32)
    result = client.infer("mlp", [_input("x", x, "FP32", False)])  # no outputs named: binary_data_output
    assert result.get_response()["outputs"][1]["parameters"] == {"binary_data_size": 16}
    assert np.abs(result.as_numpy("z") - 2 * x).max() < TOL


@pytest.mark.parametrize("height,width", [(16, 20), (7, 9)])
def test_dynamic_height_width(client: httpclient.InferenceServerClient, repo: Path, height: int, width: int) -> None:
    x = np.random.default_rng(height).standard_normal((2, 3, height, width)).astype(np.float32)
    result = client.infer("convnet", [_input("x", x, "FP32", True)])
    expected = reference(repo / "convnet" / "1" / "model.onnx", {"x": x})
    assert result.as_numpy("feat").shape == (2, 8, height, width)
    for name in ("feat", "pooled"):
        assert np.abs(result.as_numpy(name) - expected[name]).max() < TOL


def test_unbatched_int_model_json(client: httpclient.InferenceServerClient) -> None:
    x = np.array([1, -2, 7], np.int32)
    result = client.infer(
        "fixed", [_input("x", x, "INT32", False)], outputs=[httpclient.InferRequestedOutput("y", False)]
    )
    assert result.as_numpy("y").tolist() == [3, -6, 21]


def test_python_client_helper(server: serving.ServerHandle, repo: Path) -> None:
    x = np.random.default_rng(5).standard_normal((1, 3, 5, 6)).astype(np.float32)
    outputs = serving.infer(server.url, "convnet", {"x": x})
    expected = reference(repo / "convnet" / "1" / "model.onnx", {"x": x})
    assert np.abs(outputs["pooled"] - expected["pooled"]).max() < TOL
    assert serving.metadata(server.url, "convnet")["name"] == "convnet"
    with pytest.raises(ServingError, match="HTTP 404: unknown model 'nope'"):
        serving.infer(server.url, "nope", {"x": x})


def _status(exc: pytest.ExceptionInfo[InferenceServerException]) -> str:
    return str(exc.value.status())


@pytest.mark.parametrize("model,inputs,status,message", BAD_REQUESTS)
@pytest.mark.parametrize("binary", [False, True])
def test_bad_requests(
    client: httpclient.InferenceServerClient,
    repo: Path,
    model: str,
    inputs: list,
    status: int,
    message: str,
    binary: bool,
) -> None:
    tensors = [_input(name, array, datatype, binary) for name, array, datatype in inputs]
    with pytest.raises(InferenceServerException) as exc:
        client.infer(model, tensors)
    assert _status(exc) == str(status)
    assert message in exc.value.message()
    _mlp_ok(client, repo)


def test_unknown_output_and_version(client: httpclient.InferenceServerClient, repo: Path) -> None:
    x = np.ones((1, 4), np.float32)
    with pytest.raises(InferenceServerException) as exc:
        client.infer("mlp", [_input("x", x, "FP32", True)], outputs=[httpclient.InferRequestedOutput("w")])
    assert _status(exc) == "400" and "unknown output 'w' for model 'mlp'; outputs are ['y', 'z']" in exc.value.message()
    with pytest.raises(InferenceServerException) as exc:
        client.infer("mlp", [_input("x", x, "FP32", True)], model_version="5")
    assert _status(exc) == "404" and "model 'mlp' has no version 5 loaded (served: [1])" in exc.value.message()
    _mlp_ok(client, repo)


def _raw(server: serving.ServerHandle, path: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(server.url + path, content=body, headers=headers or {}, timeout=30)


def test_raw_protocol_errors(
    server: serving.ServerHandle, client: httpclient.InferenceServerClient, repo: Path
) -> None:
    x = np.ones((2, 4), np.float32).tobytes()

    def binary(size: int, payload: bytes) -> httpx.Response:
        header = json.dumps(
            {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "parameters": {"binary_data_size": size}}]}
        ).encode()
        return _raw(
            server, "/v2/models/mlp/infer", header + payload, {"Inference-Header-Content-Length": str(len(header))}
        )

    response = binary(31, x[:31])
    assert response.status_code == 400
    assert response.json()["error"] == "input 'x': binary_data_size is 31 bytes but shape [2, 4] of FP32 needs 32"
    response = binary(32, x[:20])
    assert response.status_code == 400 and "32 bytes declared but only 20 remain" in response.json()["error"]
    response = binary(32, x + b"extra")
    assert response.status_code == 400 and "declare 32 bytes but the body carries 37" in response.json()["error"]
    assert binary(32, x).status_code == 200

    response = _raw(server, "/v2/models/mlp/infer", b"{not json")
    assert response.status_code == 400 and response.json()["error"].startswith("the request is not valid JSON")
    body = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3]}]}).encode()
    response = _raw(server, "/v2/models/mlp/infer", body)
    assert (
        response.status_code == 400
        and response.json()["error"] == "input 'x': shape [1, 4] needs 4 values but 'data' has 3"
    )
    body = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": ["a", 1, 2, 3]}]}).encode()
    response = _raw(server, "/v2/models/mlp/infer", body)
    assert response.status_code == 400 and response.json()["error"].startswith("input 'x': data cannot be read as FP32")
    response = _raw(server, "/v2/models/mlp/infer", b"{}", {"Inference-Header-Content-Length": "99"})
    assert response.status_code == 400 and "does not fit the 2-byte request body" in response.json()["error"]
    # JSON without a Content-Type header is accepted (tritonclient sends none)
    body = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [[1, 2, 3, 4]]}]}).encode()
    response = httpx.post(server.url + "/v2/models/mlp/infer", content=body, headers={"content-type": ""}, timeout=30)
    assert response.status_code == 200
    assert response.json()["outputs"][1]["data"] == [2.0, 4.0, 6.0, 8.0]
    _mlp_ok(client, repo)


def test_repository_index_load_unload(
    server: serving.ServerHandle, client: httpclient.InferenceServerClient, repo: Path, tmp_path: Path
) -> None:
    index = {e["name"]: e for e in client.get_model_repository_index()}
    assert index["mlp"]["state"] == "READY" and index["convnet"]["version"] == "1"
    client.unload_model("fixed")
    assert not client.is_model_ready("fixed")
    with pytest.raises(InferenceServerException) as exc:
        client.infer("fixed", [_input("x", np.ones(3, np.int32), "INT32", True)])
    assert _status(exc) == "404"
    assert "unknown model 'fixed' (it is in the repository but not loaded" in exc.value.message()
    assert {e["name"]: e["state"] for e in client.get_model_repository_index()}["fixed"] == "UNAVAILABLE"
    # a new version published while serving is picked up by load; the newest is served
    serving.publish(fixed(tmp_path / "fixed2.onnx"), repo, "fixed")
    client.load_model("fixed")
    assert client.get_model_metadata("fixed")["versions"] == ["2"]
    result = client.infer("fixed", [_input("x", np.array([1, 2, 3], np.int32), "INT32", True)])
    assert result.as_numpy("y").tolist() == [3, 6, 9]
    assert result.get_response()["model_version"] == "2"
    with pytest.raises(InferenceServerException) as exc:
        client.load_model("ghost")
    assert _status(exc) == "400" and "no model named 'ghost'" in exc.value.message()
    with pytest.raises(InferenceServerException) as exc:
        client.unload_model("ghost")
    assert _status(exc) == "404"
    _mlp_ok(client, repo)


def test_metrics(server: serving.ServerHandle, client: httpclient.InferenceServerClient, repo: Path) -> None:
    _mlp_ok(client, repo)
    with pytest.raises(InferenceServerException):
        client.infer("mlp", [_input("x", np.ones((1, 5), np.float32), "FP32", True)])
    text = httpx.get(server.url + "/metrics").text
    assert _metric(text, 'modelps_inference_requests_total{model="mlp"}') >= 2
    assert _metric(text, 'modelps_inference_failures_total{model="mlp",status="400"}') >= 1
    assert _metric(text, 'modelps_request_duration_seconds_count{model="mlp"}') >= 1
    assert _metric(text, 'modelps_queue_duration_seconds_count{model="mlp"}') >= 1
    assert _metric(text, 'modelps_batch_size_count{model="mlp"}') >= 1


def _metric(text: str, key: str) -> float:
    match = re.search(rf"^{re.escape(key)} (\S+)$", text, re.M)
    assert match is not None, f"{key} not in metrics"
    return float(match.group(1))


def test_body_limit_413(repo: Path) -> None:
    with serving.start_background(repo, port=0, max_body_bytes=1000) as handle:
        c = httpclient.InferenceServerClient(handle.url.removeprefix("http://"))
        big = np.ones((8, 40), np.float32)  # 1280 bytes: refused before its shape is even looked at
        with pytest.raises(InferenceServerException) as exc:
            c.infer("mlp", [_input("x", big, "FP32", True)])
        assert _status(exc) == "413" and "exceeds the 1000-byte limit" in exc.value.message()
        payload = np.ones((8, 64), np.float32).tobytes()
        response = httpx.post(handle.url + "/v2/models/mlp/infer", content=payload, timeout=30)
        assert response.status_code == 413
        assert response.json()["error"] == "request body of 2048 bytes exceeds the 1000-byte limit"
        assert c.infer("mlp", [_input("x", np.ones((1, 4), np.float32), "FP32", True)]).as_numpy("z").shape == (1, 4)
        c.close()


def test_api_key(repo: Path) -> None:
    with serving.start_background(repo, port=0, api_key="s3cret", models=("mlp",)) as handle:
        c = httpclient.InferenceServerClient(handle.url.removeprefix("http://"))
        assert c.infer("mlp", [_input("x", np.ones((1, 4), np.float32), "FP32", True)]).as_numpy("z").shape == (1, 4)
        with pytest.raises(InferenceServerException) as exc:
            c.unload_model("mlp")
        assert _status(exc) == "401" and "missing or wrong API key" in exc.value.message()
        with pytest.raises(InferenceServerException) as exc:
            c.unload_model("mlp", headers={"Authorization": "Bearer wrong"})
        assert _status(exc) == "401"
        c.unload_model("mlp", headers={"Authorization": "Bearer s3cret"})
        c.load_model("mlp", headers={"Authorization": "Bearer s3cret"})
        assert c.is_model_ready("mlp")
        c.close()
    with serving.start_background(repo, port=0, api_key="k", auth_inference=True, models=("mlp",)) as handle:
        c = httpclient.InferenceServerClient(handle.url.removeprefix("http://"))
        with pytest.raises(InferenceServerException) as exc:
            c.infer("mlp", [_input("x", np.ones((1, 4), np.float32), "FP32", True)])
        assert _status(exc) == "401"
        ok = c.infer(
            "mlp", [_input("x", np.ones((1, 4), np.float32), "FP32", True)], headers={"Authorization": "Bearer k"}
        )
        assert ok.as_numpy("z").tolist() == [[2, 2, 2, 2]]
        assert c.is_server_live()  # health stays open
        c.close()


def test_refuses_open_repository_api_off_loopback(repo: Path) -> None:
    with pytest.raises(ServingError, match="refusing to listen on 0.0.0.0 without --api-key"):
        ServerSettings(repo=repo, host="0.0.0.0").check()
    ServerSettings(repo=repo, host="0.0.0.0", api_key="k").check()
    ServerSettings(repo=repo, host="0.0.0.0", repository_api=False).check()
    with pytest.raises(ServingError, match="refusing to listen"):
        serving.start_background(repo, host="0.0.0.0")


@pytest.fixture(scope="module")
def slow_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("slowrepo")
    src = tmp_path_factory.mktemp("slowsrc")
    serving.publish(slow(src / "slow.onnx"), root, "batched", max_batch_size=8)
    serving.publish(slow(src / "slower.onnx", steps=48), root, "single", dynamic_batching=False)
    return root


def _concurrent(url: str, model: str, arrays: list[np.ndarray]) -> list[np.ndarray | InferenceServerException]:
    def one(x: np.ndarray) -> np.ndarray | InferenceServerException:
        c = httpclient.InferenceServerClient(url.removeprefix("http://"), network_timeout=120)
        try:
            return c.infer(model, [_input("x", x, "FP32", True)]).as_numpy("y")
        except InferenceServerException as exc:
            return exc
        finally:
            c.close()

    with ThreadPoolExecutor(len(arrays)) as pool:
        return list(pool.map(one, arrays))


@pytest.mark.slow
def test_dynamic_batching_merges_concurrent_requests(slow_repo: Path) -> None:
    rng = np.random.default_rng(11)
    arrays = [rng.random((1, 4), dtype=np.float32) for _ in range(12)]
    with serving.start_background(slow_repo, port=0, models=("batched",)) as handle:
        results = _concurrent(handle.url, "batched", arrays)
        text = httpx.get(handle.url + "/metrics").text
    model = slow_repo / "batched" / "1" / "model.onnx"
    for x, y in zip(arrays, results, strict=True):
        assert isinstance(y, np.ndarray)
        assert np.abs(y - reference(model, {"x": x})["y"]).max() < TOL
    executions = _metric(text, 'modelps_batch_size_count{model="batched"}')
    samples = _metric(text, 'modelps_batch_size_sum{model="batched"}')
    singles = _metric(text, 'modelps_batch_size_bucket{le="1.0",model="batched"}')
    assert samples == 12
    assert executions < 12 and singles < executions  # at least one execution merged several requests


@pytest.mark.slow
def test_full_queue_answers_503(slow_repo: Path) -> None:
    arrays = [np.full((1, 4), i, np.float32) for i in range(8)]
    with serving.start_background(slow_repo, port=0, models=("single",), max_queue_size=1) as handle:
        results = _concurrent(handle.url, "single", arrays)
        refused = [r for r in results if isinstance(r, InferenceServerException)]
        assert refused, "with one running and one queued, later requests must be refused"
        for exc in refused:
            assert str(exc.status()) == "503"
            assert "model single:1: the request queue is full (1 waiting); retry later" in exc.message()
        assert all(isinstance(r, np.ndarray) for r in results if not isinstance(r, InferenceServerException))
        assert len(refused) < len(arrays)
        after = _concurrent(handle.url, "single", arrays[:1])  # still serving
        assert isinstance(after[0], np.ndarray)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests(client: httpclient.InferenceServerClient, algorithm: str) -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    result = client.infer("mlp", [_input("x", x, "FP32", True)], request_compression_algorithm=algorithm)
    assert result.as_numpy("z").tolist() == (2 * x).tolist()
