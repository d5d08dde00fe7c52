"""Servers that bench/serving.py compares: modelps serve, a 20-line FastAPI wrapper, MLServer, Triton (PyTriton).

Each ``start_*`` launches one server process for every model of the run and returns it with its
ports once it answers. Peers run from their own virtual environments (see bench/serving.py).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {path} answered")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"port {port}{path} not ready after {timeout}s")


def start_modelps(repo: Path, last_model: str, log: Path) -> tuple[subprocess.Popen, int, int]:
    """`modelps serve` with its defaults (HTTP and gRPC); returns (process, http port, grpc port)."""
    port, grpc_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "modelps", "serve", "--repo", str(repo), "--port", str(port),
           "--grpc-port", str(grpc_port), "--max-body-mb", "256"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("w"), start_new_session=True)
    wait_http(port, f"/v2/models/{last_model}/ready", proc)
    return proc, port, grpc_port


FASTAPI_APP = """
import asyncio, json, os
import numpy as np, onnxruntime as ort
from fastapi import FastAPI, Request, Response

sessions = {name: ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            for name, path in json.loads(os.environ["MODELS"]).items()}
app = FastAPI()

@app.post("/infer/{name}")
async def infer(name: str, request: Request) -> Response:
    session = sessions[name]
    feed = session.get_inputs()[0]
    x = np.frombuffer(await request.body(), np.float32).reshape(-1, *feed.shape[1:])
    run = lambda: session.run(None, {feed.name: x})[0]
    y = await asyncio.get_running_loop().run_in_executor(None, run)  # the default thread pool
    return Response(y.tobytes(), media_type="application/octet-stream")

@app.get("/ready")
async def ready() -> dict:
    return {}
"""


def start_fastapi(venv: Path, models: dict[str, Path], work: Path, log: Path) -> tuple[subprocess.Popen, int]:
    """The 20-line FastAPI + thread-pool wrapper: binary float32 body in, binary out."""
    (work / "fastapi_app.py").write_text(FASTAPI_APP)
    port = free_port()
    env = dict(os.environ, MODELS=json.dumps({k: str(v) for k, v in models.items()}))
    cmd = [str(venv / "bin" / "python"), "-m", "uvicorn", "fastapi_app:app", "--port", str(port), "--log-level",
           "warning", "--no-access-log"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=work, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    wait_http(port, "/ready", proc)
    return proc, port


MLSERVER_RUNTIME = """
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class OrtRuntime(MLModel):
    async def load(self) -> bool:
        self.session = ort.InferenceSession(self.settings.parameters.uri, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.output = self.session.get_outputs()[0].name
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0])
        y = self.session.run([self.output], {self.input: x.astype("float32")})[0]
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output(self.output, y)])
"""


def start_mlserver(venv: Path, models: dict[str, Path], work: Path, log: Path) -> tuple[subprocess.Popen, int, int]:
    """MLServer with its defaults and a custom ONNX Runtime runtime; returns (process, http, grpc ports)."""
    folder = work / "mlserver"
    port, grpc_port = free_port(), free_port()
    folder.mkdir()
    (folder / "settings.json").write_text(
        json.dumps({"http_port": port, "grpc_port": grpc_port, "metrics_port": free_port(), "debug": False})
    )
    (folder / "ort_runtime.py").write_text(MLSERVER_RUNTIME)
    for name, path in models.items():
        (folder / name).mkdir()
        settings = {"name": name, "implementation": "ort_runtime.OrtRuntime", "parameters": {"uri": str(path)}}
        (folder / name / "model-settings.json").write_text(json.dumps(settings))
    env = dict(os.environ, PYTHONPATH=str(folder))
    proc = subprocess.Popen([str(venv / "bin" / "mlserver"), "start", str(folder)], cwd=folder, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    for name in models:
        wait_http(port, f"/v2/models/{name}/ready", proc)
    return proc, port, grpc_port


TRITON_SCRIPT = """
import json, sys
import numpy as np, onnxruntime as ort
from pytriton.decorators import batch
from pytriton.model_config import ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig

models, http_port, grpc_port, metrics_port = json.loads(sys.argv[1]), *map(int, sys.argv[2:5])


def bind(triton, name, path):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed, out = session.get_inputs()[0], session.get_outputs()[0]

    @batch
    def infer(**inputs):
        return {out.name: session.run([out.name], {feed.name: inputs[feed.name]})[0]}

    inputs = [Tensor(name=feed.name, dtype=np.float32, shape=tuple(feed.shape[1:]))]
    outputs = [Tensor(name=out.name, dtype=np.float32, shape=(-1,))]
    triton.bind(model_name=name, infer_func=infer, inputs=inputs, outputs=outputs,
                config=ModelConfig(max_batch_size=16))


config = TritonConfig(http_address="127.0.0.1", http_port=http_port, grpc_address="127.0.0.1", grpc_port=grpc_port,
                      metrics_port=metrics_port)
with Triton(config=config) as triton:
    for name, path in models.items():
        bind(triton, name, path)
    triton.serve()
"""


def start_triton(venv: Path, models: dict[str, Path], work: Path, log: Path) -> tuple[subprocess.Popen, int, int]:
    """NVIDIA Triton (PyTriton's tritonserver, Python backend running ONNX Runtime, dynamic batching)."""
    (work / "triton_app.py").write_text(TRITON_SCRIPT)
    port, grpc_port = free_port(), free_port()
    pyenv_lib = Path(os.path.realpath(venv / "bin" / "python")).parent.parent / "lib"
    env = dict(os.environ, LD_LIBRARY_PATH=f"{pyenv_lib}:{os.environ.get('LD_LIBRARY_PATH', '')}")
    args = [json.dumps({k: str(v) for k, v in models.items()}), str(port), str(grpc_port), str(free_port())]
    proc = subprocess.Popen([str(venv / "bin" / "python"), "triton_app.py", *args], cwd=work, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    for name in models:
        wait_http(port, f"/v2/models/{name}/ready", proc)
    return proc, port, grpc_port


def proc_cpu(pid: int | None) -> float:
    """CPU seconds used by a process and its children (from /proc), or by this process when pid is None."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    total = 0.0
    try:
        pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pids = [pid]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            pass
    return total
