"""Serving benchmark: in-process ONNX Runtime vs `modelps serve` (binary/JSON, with/without dynamic
batching) vs MLServer and BentoML, all serving the same ResNet-50 ONNX, batch-1 requests at 1, 4
and 16 concurrent clients. Variants are interleaved and repeated; medians are reported.

MLServer and BentoML run from their own virtual environments (they pin other versions of
fastapi/uvloop/numpy than ModelPS):

    python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install mlserver==1.7.1 uvloop==0.21.0 onnxruntime
    python3 -m venv /tmp/bench-venv-bento && /tmp/bench-venv-bento/bin/pip install bentoml==1.4.40 onnxruntime

Run:  python bench/serving.py [--duration 6] [--repeats 3]   (a missing venv skips that server)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INPUT_SHAPE = (1, 3, 256, 128)  # person re-id input (FedReID's ResNet-50), used for the torch fallback
IO = {"input": "x", "output": "y"}  # the model's first input and output, set once the model is loaded


# ---------------------------------------------------------------------------------------------- model
def resnet50_onnx(path: Path) -> Path:
    """The zoo's fedreid-resnet50 when the zoo is available, else a torch ResNet-50 (random weights)."""
    if path.is_file():
        return path
    try:
        import zoo  # type: ignore[import-not-found]

        zoo.export("fedreid-resnet50", path)
        return path
    except (ImportError, AttributeError, KeyError, TypeError) as exc:
        print(f"# zoo unavailable ({type(exc).__name__}); exporting a torch ResNet-50 with random weights")
    path = path.with_name("resnet50-torch.onnx")
    if path.is_file():
        return path
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, mid: int, stride: int) -> None:
            super().__init__()
            cout = mid * 4
            self.body = nn.Sequential(
                nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                nn.Conv2d(mid, mid, 3, stride, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout),
            )  # fmt: skip
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.body(x) + (x if self.down is None else self.down(x)))

    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for mid, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 1)):  # last stride 1 as in re-id
        for i in range(blocks):
            layers.append(Bottleneck(cin, mid, stride if i == 0 else 1))
            cin = mid * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    torch.manual_seed(0)
    net = nn.Sequential(*layers).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(
        net, (torch.randn(*INPUT_SHAPE),), str(tmp), input_names=["x"], output_names=["y"],
        dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=17, dynamo=False,
    )  # fmt: skip
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str, proc: subprocess.Popen, timeout: float = 180) -> None:
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
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("y", y)])
"""

BENTO_SERVICE = """
import bentoml
import numpy as np
import onnxruntime as ort

MODEL = {model!r}


@bentoml.service(workers=1, traffic={{"timeout": 120}})
class Rn50:
    def __init__(self) -> None:
        self.session = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])

    @bentoml.api
    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {{{input!r}: x.astype(np.float32)}})[0]
"""


def start_modelps(repo: Path, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [sys.executable, "-m", "modelps", "serve", "--repo", str(repo), "--port", str(port), "--max-body-mb", "256"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    wait_http(port, "/v2/health/ready", proc)
    return proc, port


def start_mlserver(venv: Path, model: Path, work: Path, log: Path) -> tuple[subprocess.Popen, int]:
    folder = work / "mlserver"
    (folder / "rn50").mkdir(parents=True)
    port = free_port()
    (folder / "settings.json").write_text(
        json.dumps({"http_port": port, "grpc_port": free_port(), "metrics_port": free_port(), "debug": False})
    )
    (folder / "rn50" / "ort_runtime.py").write_text(MLSERVER_RUNTIME)
    (folder / "rn50" / "model-settings.json").write_text(
        json.dumps({"name": "rn50", "implementation": "ort_runtime.OrtRuntime", "parameters": {"uri": str(model)}})
    )
    proc = subprocess.Popen([str(venv / "bin" / "mlserver"), "start", str(folder)], cwd=folder / "rn50",
                            stdout=log.open("w"), stderr=subprocess.STDOUT)  # fmt: skip
    wait_http(port, "/v2/models/rn50/ready", proc)
    return proc, port


def start_bentoml(venv: Path, model: Path, work: Path, log: Path) -> tuple[subprocess.Popen, int]:
    folder = work / "bento"
    folder.mkdir()
    (folder / "service.py").write_text(BENTO_SERVICE.format(model=str(model), input=IO["input"]))
    port = free_port()
    env = dict(os.environ, BENTOML_HOME=str(work / "bentoml-home"), BENTOML_DO_NOT_TRACK="true")
    proc = subprocess.Popen([str(venv / "bin" / "bentoml"), "serve", "service:Rn50", "--port", str(port)],
                            cwd=folder, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)  # fmt: skip
    wait_http(port, "/readyz", proc)
    return proc, port


# ---------------------------------------------------------------------------------------------- requests
def v2_binary(x: np.ndarray) -> tuple[bytes, dict[str, str]]:
    header = json.dumps({
        "inputs": [{"name": IO["input"], "shape": list(x.shape), "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes}}],
        "outputs": [{"name": IO["output"], "parameters": {"binary_data": True}}],
    }).encode()  # fmt: skip
    return header + x.tobytes(), {"Inference-Header-Content-Length": str(len(header))}


def v2_json(x: np.ndarray) -> tuple[bytes, dict[str, str]]:
    body = {
        "inputs": [{"name": IO["input"], "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}],
        "outputs": [{"name": IO["output"]}],
    }
    return json.dumps(body).encode(), {"Content-Type": "application/json"}


def decode_v2(data: bytes, headers: http.client.HTTPMessage) -> np.ndarray:
    length = headers.get("Inference-Header-Content-Length")
    if length is None:
        out = json.loads(data)["outputs"][0]
        return np.asarray(out["data"], np.float32).reshape(out["shape"])
    header = json.loads(data[: int(length)])
    return np.frombuffer(data[int(length) :], np.float32).reshape(header["outputs"][0]["shape"])


def http_caller(port: int, path: str, body: bytes, headers: dict[str, str]) -> Callable[[], Callable[[], bytes]]:
    """A factory of per-thread callers that POST the same pre-encoded body on a kept-alive connection."""

    def make() -> Callable[[], bytes]:
        conn = [http.client.HTTPConnection("127.0.0.1", port, timeout=300)]

        def call() -> bytes:
            try:
                conn[0].request("POST", path, body, headers)
                response = conn[0].getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:  # the server dropped the connection
                conn[0].close()
                conn[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
            return data

        return call

    return make


def check_output(port: int, path: str, body: bytes, headers: dict[str, str], expected: np.ndarray, kind: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", path, body, headers)
    response = conn.getresponse()
    data = response.read()
    assert response.status == 200, data[:300]
    if kind == "bento":
        got = np.asarray(json.loads(data), np.float32)
    else:
        got = decode_v2(data, response.headers)
    return float(np.abs(got.reshape(expected.shape) - expected).max())


# ---------------------------------------------------------------------------------------------- load
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


def run_load(
    make_call: Callable[[], Callable[[], object]], clients: int, duration: float, server_pid: int | None
) -> dict:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = threading.Event()
    barrier = threading.Barrier(clients + 1)
    errors: list[str] = []

    def worker(i: int) -> None:
        call = make_call()
        call()  # warm the connection
        barrier.wait()
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                call()
            except ConnectionError as exc:  # counted, the client reconnects
                errors.append(str(exc))
                continue
            latencies[i].append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    try:
        barrier.wait()
        client0, server0, t0 = proc_cpu(None), proc_cpu(server_pid) if server_pid else 0.0, time.perf_counter()
        time.sleep(duration)
    finally:
        stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    client1, server1 = proc_cpu(None), proc_cpu(server_pid) if server_pid else 0.0
    flat = [x for lat in latencies for x in lat]
    return {
        "errors": len(errors),
        "rps": len(flat) / elapsed,
        "latencies": flat,
        "client_cpu": (client1 - client0) / elapsed,
        "server_cpu": (server1 - server0) / elapsed if server_pid else None,
        "loadavg": os.getloadavg()[0],
    }


def main() -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM also stops the servers
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--mlserver-venv", type=Path, default=Path("/tmp/bench-venv"))
    parser.add_argument("--bentoml-venv", type=Path, default=Path("/tmp/bench-venv-bento"))
    parser.add_argument("--only", nargs="*", help="run only these variants")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "serving.json")
    parser.add_argument("--overhead-only", action="store_true", help="only measure per-request overhead (tiny model)")
    args = parser.parse_args()
    if args.overhead_only:
        return overhead(args)

    import onnxruntime as ort

    import serving

    home = Path(os.environ.get("MODELPS_HOME", Path.home() / ".modelps"))
    model = resnet50_onnx(home / "bench" / "fedreid-resnet50.onnx")
    work = Path(tempfile.mkdtemp(prefix="modelps-bench-"))
    repo = work / "repo"
    serving.publish(model, repo, "rn50", max_batch_size=16)
    serving.publish(model, repo, "rn50-nobatch", dynamic_batching=False)
    serving.publish(model, repo, "rn50-2inst", max_batch_size=16, instances=2)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    IO.update(input=first.name, output=session.get_outputs()[0].name)
    shape = tuple(d if isinstance(d, int) else 1 for d in first.shape)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    expected = session.run([IO["output"]], {IO["input"]: x})[0]

    procs: dict[str, subprocess.Popen] = {}
    variants: dict[str, tuple[Callable[[], Callable[[], object]], int | None]] = {}
    max_diff: dict[str, float] = {}
    notes: list[str] = []
    try:
        variants["in-process ORT"] = (lambda: lambda: session.run([IO["output"]], {IO["input"]: x}), None)
        proc, port = start_modelps(repo, work / "modelps.log")
        procs["modelps"] = proc
        for label, model_name, encode in (
            ("modelps binary, batching", "rn50", v2_binary),
            ("modelps binary, no batching", "rn50-nobatch", v2_binary),
            ("modelps binary, batching, 2 instances", "rn50-2inst", v2_binary),
            ("modelps JSON, batching", "rn50", v2_json),
            ("modelps JSON, no batching", "rn50-nobatch", v2_json),
        ):
            body, headers = encode(x)
            path = f"/v2/models/{model_name}/infer"
            max_diff[label] = check_output(port, path, body, headers, expected, "v2")
            variants[label] = (http_caller(port, path, body, headers), proc.pid)
        if (args.mlserver_venv / "bin" / "mlserver").exists():
            try:
                proc, port = start_mlserver(args.mlserver_venv, model, work, work / "mlserver.log")
                procs["mlserver"] = proc
                body, headers = v2_json(x)
                max_diff["MLServer (JSON)"] = check_output(port, "/v2/models/rn50/infer", body, headers, expected, "v2")
                variants["MLServer (JSON)"] = (http_caller(port, "/v2/models/rn50/infer", body, headers), proc.pid)
            except Exception as exc:
                notes.append(f"MLServer failed: {exc} (log: {work / 'mlserver.log'})")
        else:
            notes.append(f"MLServer skipped: no {args.mlserver_venv}/bin/mlserver")
        if (args.bentoml_venv / "bin" / "bentoml").exists():
            try:
                proc, port = start_bentoml(args.bentoml_venv, model, work, work / "bentoml.log")
                procs["bentoml"] = proc
                body = json.dumps({"x": x.tolist()}).encode()
                headers = {"Content-Type": "application/json"}
                max_diff["BentoML (JSON)"] = check_output(port, "/predict", body, headers, expected, "bento")
                variants["BentoML (JSON)"] = (http_caller(port, "/predict", body, headers), proc.pid)
            except Exception as exc:
                notes.append(f"BentoML failed: {exc} (log: {work / 'bentoml.log'})")
        else:
            notes.append(f"BentoML skipped: no {args.bentoml_venv}/bin/bentoml")
        if args.only:
            variants = {k: v for k, v in variants.items() if k in args.only or k == "in-process ORT"}
        for note in notes:
            print("#", note)
        print("# max abs diff vs in-process:", json.dumps(max_diff))

        names = list(variants)
        results: dict[str, dict[int, list[dict]]] = {n: {c: [] for c in args.concurrency} for n in names}
        for repeat in range(args.repeats):
            for clients in args.concurrency:
                order = names[repeat % len(names) :] + names[: repeat % len(names)]  # rotate the order
                for name in order:
                    make_call, pid = variants[name]
                    r = run_load(make_call, clients, args.duration, pid)
                    results[name][clients].append(r)
                    line = f"# repeat {repeat} clients {clients:2d} {name:38s} {r['rps']:6.2f} req/s"
                    print(f"{line} (load average {r['loadavg']:.1f}, {r['errors']} dropped connections)", flush=True)
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)

    summary = summarize(results, args.concurrency)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"cpus": os.cpu_count(), "duration": args.duration, "repeats": args.repeats, "model": model.name,
            "input_shape": shape, "io": IO, "max_abs_diff": max_diff, "notes": notes}  # fmt: skip
    args.out.write_text(json.dumps({"meta": meta, "summary": summary}, indent=2))
    print(table(summary, args.concurrency))
    return 0


def tiny_model(path: Path) -> Path:
    """A small conv net (about 0.1 ms per run) to expose the server's own per-request cost."""
    import onnx_ir as ir

    from modelps.io import save

    rng = np.random.default_rng(0)
    text = (
        '<ir_version: 8, opset_import: ["" : 17]>\n'
        "tiny (float[N,3,32,32] x) => (float[N,8] y) {"
        " c = Conv <pads = [1, 1, 1, 1]> (x, K)  r = Relu(c)  g = GlobalAveragePool(r)  y = Flatten <axis = 1> (g) }"
    )
    kernel = ir.tensor(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), name="K")
    model = ir.from_onnx_text(text, initializers=[kernel])
    save(model, path)
    return path


def overhead(args: argparse.Namespace) -> int:
    """Median per-request latency of a tiny model: in-process vs `modelps serve` (binary, JSON), 1 client."""
    import onnxruntime as ort

    import serving

    work = Path(tempfile.mkdtemp(prefix="modelps-bench-"))
    model = tiny_model(work / "tiny.onnx")
    serving.publish(model, work / "repo", "tiny")
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    proc, port = start_modelps(work / "repo", work / "modelps.log")
    try:
        variants = {"in-process ORT": ((lambda: (lambda: session.run(["y"], {"x": x}))), None)}
        for label, encode in (("modelps binary", v2_binary), ("modelps JSON", v2_json)):
            body, headers = encode(x)
            variants[label] = (http_caller(port, "/v2/models/tiny/infer", body, headers), proc.pid)
        p50: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.repeats):
            for name, (make_call, pid) in variants.items():
                r = run_load(make_call, 1, 2.0, pid)
                p50[name].append(float(np.percentile(r["latencies"], 50)) * 1e3)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(p50["in-process ORT"])
    print("| tiny model, 1 client | p50 ms (median of repeats) | overhead over in-process ms |")
    print("|---|---|---|")
    for name, values in p50.items():
        print(f"| {name} | {statistics.median(values):.3f} | {statistics.median(values) - base:.3f} |")
    return 0


def summarize(results: dict[str, dict[int, list[dict]]], concurrency: list[int]) -> dict[str, dict[str, dict]]:
    summary: dict[str, dict[str, dict]] = {}
    for name, by_c in results.items():
        summary[name] = {}
        for c in concurrency:
            runs = by_c[c]
            lat = np.array([x for r in runs for x in r["latencies"]]) * 1e3
            summary[name][str(c)] = {
                "rps": statistics.median(r["rps"] for r in runs),
                "p50_ms": float(np.percentile(lat, 50)),
                "p99_ms": float(np.percentile(lat, 99)),
                "client_cpu": statistics.median(r["client_cpu"] for r in runs),
                "server_cpu": statistics.median(r["server_cpu"] for r in runs)
                if runs[0]["server_cpu"] is not None
                else None,
                "rps_runs": [round(r["rps"], 2) for r in runs],
                "errors": sum(r["errors"] for r in runs),
                "loadavg": [round(r["loadavg"], 1) for r in runs],
            }
    base = summary["in-process ORT"]
    for name in summary:
        for c in concurrency:
            summary[name][str(c)]["ratio"] = summary[name][str(c)]["rps"] / base[str(c)]["rps"]
    return summary


def table(summary: dict[str, dict[str, dict]], concurrency: list[int]) -> str:
    head = "| variant | " + " | ".join(
        f"{c} client{'s' if c > 1 else ''}: req/s (x in-proc), p50 / p99 ms" for c in concurrency
    )
    lines = [head + " |", "|---|" + "---|" * len(concurrency)]
    for name, by_c in summary.items():
        cells = []
        for c in concurrency:
            s = by_c[str(c)]
            cells.append(f"{s['rps']:.1f} ({s['ratio']:.2f}x), {s['p50_ms']:.1f} / {s['p99_ms']:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| variant | " + " | ".join(f"client CPU / server CPU at {c} (cores)" for c in concurrency) + " |")
    lines.append("|---|" + "---|" * len(concurrency))
    for name, by_c in summary.items():
        cells = []
        for c in concurrency:
            s = by_c[str(c)]
            server = f"{s['server_cpu']:.2f}" if s["server_cpu"] is not None else "-"
            cells.append(f"{s['client_cpu']:.2f} / {server}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
