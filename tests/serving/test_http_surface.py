"""HTTP routes beyond inference that tritonclient calls, and regressions of defects found by hand."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

import serving


@pytest.fixture
def client(server: serving.ServerHandle) -> Iterator[httpclient.InferenceServerClient]:
    c = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    yield c
    c.close()


def _binary(server: serving.ServerHandle, size: object, payload: bytes) -> httpx.Response:
    header = json.dumps(
        {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "parameters": {"binary_data_size": size}}]}
    ).encode()
    headers = {"Inference-Header-Content-Length": str(len(header))}
    return httpx.post(server.url + "/v2/models/mlp/infer", content=header + payload, headers=headers, timeout=30)


@pytest.mark.parametrize("size,shown", [(32.0, "32.0"), ("32", "'32'"), (-32, "-32"), (True, "True"), ([32], "[32]")])
def test_non_integer_binary_data_size_is_400(server: serving.ServerHandle, size: object, shown: str) -> None:
    response = _binary(server, size, np.ones((2, 4), np.float32).tobytes())
    assert response.status_code == 400
    assert response.json() == {
        "error": f"input 'x': binary_data_size must be a non-negative integer byte count, not {shown}"
    }
    assert _binary(server, 32, np.ones((2, 4), np.float32).tobytes()).status_code == 200


def test_statistics(client: httpclient.InferenceServerClient) -> None:
    x = httpclient.InferInput("x", [3, 4], "FP32")
    x.set_data_from_numpy(np.ones((3, 4), np.float32))
    client.infer("mlp", [x])
    with pytest.raises(InferenceServerException):
        client.infer("mlp", [x], outputs=[httpclient.InferRequestedOutput("w")])
    stats = client.get_inference_statistics("mlp")["model_stats"]
    assert [(s["name"], s["version"]) for s in stats] == [("mlp", "1")]
    entry = stats[0]
    assert set(entry) >= {"last_inference", "inference_count", "execution_count", "inference_stats", "batch_stats"}
    inference = entry["inference_stats"]
    assert set(inference) >= {"success", "fail", "queue", "compute_input", "compute_infer", "compute_output"}
    assert inference["success"]["count"] >= 1 and inference["success"]["ns"] > 0
    assert inference["fail"]["count"] >= 1
    assert entry["inference_count"] >= 3 and any(b["batch_size"] == 3 for b in entry["batch_stats"])
    assert client.get_inference_statistics("mlp", "1")["model_stats"][0]["version"] == "1"
    assert {s["name"] for s in client.get_inference_statistics()["model_stats"]} >= {"mlp", "convnet"}
    with pytest.raises(InferenceServerException) as exc:
        client.get_inference_statistics("nope")
    assert str(exc.value.status()) == "404" and "unknown model 'nope'" in exc.value.message()


def test_trace_log_and_shared_memory_routes(client: httpclient.InferenceServerClient) -> None:
    assert client.get_trace_settings()["trace_level"] == ["OFF"]
    assert client.get_trace_settings("mlp")["trace_mode"] == "triton"
    assert client.update_trace_settings(settings={"trace_level": ["OFF"]})["trace_level"] == ["OFF"]
    with pytest.raises(InferenceServerException) as exc:
        client.update_trace_settings(settings={"trace_level": ["TIMESTAMPS"]})
    assert str(exc.value.status()) == "501" and "tracing is not supported" in exc.value.message()
    assert client.get_log_settings()["log_verbose_level"] == 0
    assert client.update_log_settings({"log_verbose_level": 2})["log_verbose_level"] == 2
    assert client.update_log_settings({"log_verbose_level": 0})["log_verbose_level"] == 0
    with pytest.raises(InferenceServerException) as exc:
        client.update_log_settings({"log_verbose_level": "loud"})
    assert str(exc.value.status()) == "400"
    assert client.get_system_shared_memory_status() == []
    assert client.get_cuda_shared_memory_status() == []
    with pytest.raises(InferenceServerException) as exc:
        client.register_system_shared_memory("r", "/key", 64)
    assert str(exc.value.status()) == "501" and "shared memory is not supported" in exc.value.message()
    client.unregister_system_shared_memory()
    client.unregister_cuda_shared_memory("r")


@pytest.mark.parametrize(
    "method,path,status,message",
    [
        ("GET", "/v2/nothing/here", 404, "no route GET /v2/nothing/here"),
        ("GET", "/", 404, "no route GET /"),
        ("GET", "/v2/models/mlp/infer", 405, "method GET is not allowed on /v2/models/mlp/infer"),
        ("DELETE", "/v2/models/mlp", 405, "method DELETE is not allowed on /v2/models/mlp"),
    ],
)
def test_unknown_routes_answer_json(
    server: serving.ServerHandle, method: str, path: str, status: int, message: str
) -> None:
    response = httpx.request(method, server.url + path, timeout=30)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"].startswith(message)


def test_client_disconnect_is_not_an_error(server: serving.ServerHandle, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="serving")
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b'POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"inputs": ')
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while not _metric(server, 'modelps_client_disconnects_total{route="/v2/models/{name}/infer"}'):
        assert time.monotonic() < deadline, "the disconnect was not counted"
        time.sleep(0.05)
    text = httpx.get(server.url + "/metrics").text
    assert 'route="/v2/models/{name}/infer",status="500"' not in text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(r.levelno == logging.DEBUG and "client disconnected" in r.getMessage() for r in caplog.records)


def _metric(server: serving.ServerHandle, key: str) -> float:
    match = re.search(rf"^{re.escape(key)} (\S+)$", httpx.get(server.url + "/metrics").text, re.M)
    return float(match.group(1)) if match else 0.0
