from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

import serving
from tests.serving._serving_models import convnet, mlp


def modelps(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "modelps", *args], capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_help_lists_the_commands() -> None:
    for command in ("build", "publish", "serve"):
        assert "usage: modelps " + command in modelps(command, "--help").stdout


def test_build_and_publish(models_dir: Path, tmp_path: Path) -> None:
    source = convnet(models_dir / "c.onnx")
    out = tmp_path / "c.opt.onnx"
    built = json.loads(modelps("build", str(source), "--backend", "ort-cpu", "-o", str(out), "--json").stdout)
    assert built["path"] == str(out) and built["providers"] == ["CPUExecutionProvider"]
    repo = tmp_path / "repo"
    first = modelps("publish", str(out), "--repo", str(repo), "--name", "conv").stdout
    assert first.strip() == f"published conv version 1 at {repo / 'conv' / '1' / 'model.onnx'}"
    second = json.loads(modelps("publish", str(out), "--repo", str(repo), "--name", "conv", "--json").stdout)
    assert second["version"] == 2


@pytest.mark.parametrize(
    "args,error",
    [
        (["build", "{m}", "-o", "{t}/o.onnx", "--fp16"], "modelps: error: --fp16/--int8 need a TensorRT backend"),
        (["build", "{m}", "-o", "{t}/o.plan", "--backend", "tensorrt", "--min-shape", "x:1x4"], "needs all three"),
        (["publish", "{m}", "--repo", "{t}", "--name", "a/b"], "modelps: error: model name 'a/b' must be"),
        (
            ["serve", "--repo", "{t}", "--host", "0.0.0.0"],
            "modelps: error: refusing to listen on 0.0.0.0 without --api-key",
        ),
        (["serve", "--repo", "{t}/missing"], "the model repository folder does not exist"),
        (["serve", "--repo", "{t}", "--port", "8123", "--grpc-port", "8123"], "give gRPC its own port"),
    ],
)
def test_errors_are_one_line(models_dir: Path, tmp_path: Path, args: list[str], error: str) -> None:
    model = mlp(models_dir / "m.onnx")
    result = modelps(*(a.format(m=model, t=tmp_path) for a in args), check=False)
    assert result.returncode == 1
    assert error in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("grpc", [True, False])
def test_serve_runs_until_interrupted(models_dir: Path, tmp_path: Path, grpc: bool) -> None:
    repo = tmp_path / "repo"
    serving.publish(mlp(models_dir / "m.onnx"), repo, "mlp")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    grpc_port = _free_port() if grpc else 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelps", "serve", "--repo", str(repo), "--port", "0", "--threads", "1",
         "--spin", "off", "--grpc-port", str(grpc_port)],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        url, grpc_url = None, None
        for line in proc.stderr:
            record = json.loads(line)
            assert {"time", "level", "logger", "message"} <= set(record)
            if record["message"].startswith("gRPC "):
                grpc_url = record["message"].rsplit(" at ", 1)[1]
            if record["message"].startswith("serving "):
                url = record["message"].rsplit(" at ", 1)[1]
                break
        assert url is not None
        x = np.ones((2, 4), np.float32)
        assert serving.infer(url, "mlp", {"x": x})["z"].tolist() == (2 * x).tolist()
        if grpc:
            assert grpc_url == f"127.0.0.1:{grpc_port}"
            client = grpcclient.InferenceServerClient(grpc_url)
            tensor = grpcclient.InferInput("x", [2, 4], "FP32")
            tensor.set_data_from_numpy(x)
            assert client.infer("mlp", [tensor]).as_numpy("z").tolist() == (2 * x).tolist()
            client.close()
        else:
            assert grpc_url is None
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode in (0, 130)
