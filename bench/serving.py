"""Serving benchmark: `modelps serve` (HTTP binary and JSON, gRPC) against in-process ONNX Runtime, a
20-line FastAPI + thread-pool wrapper, MLServer and NVIDIA Triton (PyTriton), on the zoo's
MobileFaceNet and ResNet-50, batch 1 and 8, 1/4/8/16 concurrent clients.

Every server serves the same ONNX file with its defaults; each is checked against in-process ONNX
Runtime first. Variants are interleaved (the order rotates every repeat) and repeated; the table
gives the median req/s, its ratio to in-process at the same point, and p50 / p99 over all repeats.
Clients send pre-encoded requests on kept-alive connections (gRPC: pre-serialized ModelInferRequest
bytes on one channel per client), so the client side costs the same for every server.

Peers run from their own virtual environments (their pins differ from ModelPS's):

    python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install mlserver==1.7.1 uvloop==0.21.0 onnxruntime
    PY312=$(pyenv root)/versions/3.12.1   # PyTriton's Python backend needs 3.12
    $PY312/bin/python3.12 -m venv /tmp/pytriton && /tmp/pytriton/bin/pip install nvidia-pytriton==0.7.0 onnxruntime

Run:  python bench/serving.py [--duration 3] [--repeats 2] [--models mobilefacenet resnet50]
      python bench/serving.py --overhead-only       # p50 per-request overhead on a tiny model
A missing venv skips that server (the FastAPI wrapper runs from the MLServer venv, which has FastAPI).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
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

import serving_peers as peers  # noqa: E402

ZOO = {"mobilefacenet": "face-mobilefacenet", "resnet50": "fedreid-resnet50"}
Caller = Callable[[], Callable[[], bytes]]


# ---------------------------------------------------------------------------------------------- requests
def v2_binary(x: np.ndarray, feed: str, out: str) -> tuple[bytes, dict[str, str]]:
    header = json.dumps({
        "inputs": [{"name": feed, "shape": list(x.shape), "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes}}],
        "outputs": [{"name": out, "parameters": {"binary_data": True}}],
    }).encode()  # fmt: skip
    return header + x.tobytes(), {"Inference-Header-Content-Length": str(len(header))}


def v2_json(x: np.ndarray, feed: str, out: str) -> tuple[bytes, dict[str, str]]:
    body = {
        "inputs": [{"name": feed, "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}],
        "outputs": [{"name": out, "parameters": {"binary_data": False}}],
    }
    return json.dumps(body).encode(), {"Content-Type": "application/json"}


def grpc_request(model: str, x: np.ndarray, feed: str, out: str) -> bytes:
    from serving import proto

    request = proto.ModelInferRequest(model_name=model)
    request.inputs.add(name=feed, datatype="FP32", shape=list(x.shape))
    request.outputs.add(name=out)
    request.raw_input_contents.append(x.tobytes())
    return request.SerializeToString()


def decode(kind: str, data: bytes, headers: http.client.HTTPMessage | None) -> np.ndarray:
    if kind == "raw":
        return np.frombuffer(data, np.float32)
    if kind == "grpc":
        from serving import proto

        response = proto.ModelInferResponse.FromString(data)
        if response.raw_output_contents:
            return np.frombuffer(response.raw_output_contents[0], np.float32)
        return np.asarray(response.outputs[0].contents.fp32_contents, np.float32)
    length = headers.get("Inference-Header-Content-Length") if headers is not None else None
    if length is None:
        return np.asarray(json.loads(data)["outputs"][0]["data"], np.float32)
    return np.frombuffer(data[int(length) :], np.float32)


def http_caller(port: int, path: str, body: bytes, headers: dict[str, str]) -> Caller:
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
            call.headers = response.headers  # type: ignore[attr-defined]
            return data

        return call

    return make


def grpc_caller(port: int, body: bytes) -> Caller:
    """A factory of per-thread callers sending pre-serialized ModelInferRequest bytes on their own channel."""
    import grpc

    def make() -> Callable[[], bytes]:
        options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
        method = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
        return lambda: method(body, timeout=300)

    return make


def check(make: Caller, kind: str, expected: np.ndarray) -> float:
    call = make()
    data = call()
    got = decode(kind, data, getattr(call, "headers", None))
    return float(np.abs(got.reshape(expected.shape) - expected).max())


# ---------------------------------------------------------------------------------------------- load
def run_load(make_call: Caller, clients: int, duration: float, server_pid: int | None) -> dict:
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
        server0 = peers.proc_cpu(server_pid) if server_pid else 0.0
        t0 = time.perf_counter()
        time.sleep(duration)
    finally:
        stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    flat = [x for lat in latencies for x in lat]
    server_cpu = (peers.proc_cpu(server_pid) - server0) / elapsed if server_pid else None
    return {"errors": len(errors), "rps": len(flat) / elapsed, "latencies": flat, "server_cpu": server_cpu,
            "loadavg": os.getloadavg()[0]}  # fmt: skip


# ---------------------------------------------------------------------------------------------- setup
def zoo_model(name: str) -> Path:
    home = Path(os.environ.get("MODELPS_HOME", Path.home() / ".modelps"))
    path = home / "bench" / f"{ZOO[name]}.onnx"
    if not path.is_file():
        import zoo

        path.parent.mkdir(parents=True, exist_ok=True)
        zoo.export(ZOO[name], path)
    return path


class Servers:
    """Every server of the run, started once, each serving every model; stops them all on exit."""

    def __init__(self, models: dict[str, Path], args: argparse.Namespace, work: Path) -> None:
        self.procs: list[subprocess.Popen] = []
        self.ports: dict[str, tuple[int, ...]] = {}
        self.pids: dict[str, int] = {}
        self.notes: list[str] = []
        import serving

        for name, path in models.items():
            serving.publish(path, work / "repo", name, max_batch_size=16)
        starts: list[tuple[str, Callable[[], tuple]]] = [
            ("modelps", lambda: peers.start_modelps(work / "repo", list(models)[-1], work / "modelps.log"))
        ]
        if (args.mlserver_venv / "bin" / "mlserver").exists():
            starts.append(("fastapi", lambda: peers.start_fastapi(args.mlserver_venv, models, work, work / "f.log")))
            starts.append(("mlserver", lambda: peers.start_mlserver(args.mlserver_venv, models, work, work / "m.log")))
        else:
            self.notes.append(f"FastAPI wrapper and MLServer skipped: no {args.mlserver_venv}/bin/mlserver")
        if (args.pytriton_venv / "bin" / "python").exists():
            starts.append(("triton", lambda: peers.start_triton(args.pytriton_venv, models, work, work / "t.log")))
        else:
            self.notes.append(f"Triton skipped: no {args.pytriton_venv}")
        for label, start in starts:
            try:
                proc, *ports = start()
            except Exception as exc:
                self.notes.append(f"{label} failed to start: {exc}")
                continue
            self.procs.append(proc)
            self.ports[label] = tuple(ports)
            self.pids[label] = proc.pid

    def stop(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # the peer and the processes it started (own session)
            except OSError:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def variants(servers: Servers, name: str, x: np.ndarray, feed: str, out: str, session) -> dict[str, tuple]:
    """label -> (caller factory, decode kind, server pid) for one model and input."""
    found: dict[str, tuple] = {"in-process ORT": (lambda: lambda: session.run([out], {feed: x})[0], "array", None)}
    if "modelps" in servers.ports:
        port, grpc_port = servers.ports["modelps"]
        pid = servers.pids["modelps"]
        path = f"/v2/models/{name}/infer"
        found["modelps HTTP binary"] = (http_caller(port, path, *v2_binary(x, feed, out)), "v2", pid)
        found["modelps HTTP JSON"] = (http_caller(port, path, *v2_json(x, feed, out)), "v2", pid)
        found["modelps gRPC"] = (grpc_caller(grpc_port, grpc_request(name, x, feed, out)), "grpc", pid)
    if "fastapi" in servers.ports:
        headers = {"Content-Type": "application/octet-stream"}
        caller = http_caller(servers.ports["fastapi"][0], f"/infer/{name}", x.tobytes(), headers)
        found["FastAPI + thread pool"] = (caller, "raw", servers.pids["fastapi"])
    for label, peer in (("MLServer gRPC", "mlserver"), ("Triton gRPC", "triton")):
        if peer in servers.ports:
            caller = grpc_caller(servers.ports[peer][1], grpc_request(name, x, feed, out))
            found[label] = (caller, "grpc", servers.pids[peer])
    return found


# ---------------------------------------------------------------------------------------------- main
def main() -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM also stops the servers
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=3.0, help="seconds per measurement (x2 for batch 8, x2 for ResNet-50)"
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--models", nargs="+", default=list(ZOO), choices=list(ZOO))
    parser.add_argument("--only", nargs="*", help="run only these variants (and in-process)")
    parser.add_argument("--mlserver-venv", type=Path, default=Path("/tmp/bench-venv"))
    parser.add_argument("--pytriton-venv", type=Path, default=Path("/tmp/pytriton"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "serving.json")
    parser.add_argument("--overhead-only", action="store_true", help="p50 overhead per request on a tiny model")
    parser.add_argument("--pool", type=Path, nargs="+", help="pool earlier runs' JSONs into --out (no measuring)")
    args = parser.parse_args()
    if args.overhead_only:
        return overhead(args)
    if args.pool:
        return pool(args.pool, args.out)
    import onnxruntime as ort

    models = {name: zoo_model(name) for name in args.models}
    work = Path(tempfile.mkdtemp(prefix="modelps-bench-"))
    servers = Servers(models, args, work)
    results: dict = {}
    max_diff: dict = {}
    try:
        for note in servers.notes:
            print("#", note, flush=True)
        for name, path in models.items():
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            feed, out = session.get_inputs()[0], session.get_outputs()[0].name
            for batch in args.batches:
                x = np.random.default_rng(batch).standard_normal((batch, *feed.shape[1:])).astype(np.float32)
                expected = session.run([out], {feed.name: x})[0]
                found = variants(servers, name, x, feed.name, out, session)
                if args.only:
                    found = {k: v for k, v in found.items() if k in args.only or k == "in-process ORT"}
                for label, (make, kind, _) in list(found.items())[1:]:
                    try:
                        max_diff[f"{name} b{batch} {label}"] = check(make, kind, expected)
                    except Exception as exc:
                        servers.notes.append(f"{label} on {name} batch {batch} failed: {exc}")
                        print("#", servers.notes[-1], flush=True)
                        del found[label]
                measure(results, found, name, batch, args)
    finally:
        servers.stop()
        shutil.rmtree(work, ignore_errors=True)
    summary = summarize(results)
    meta = {"cpus": os.cpu_count(), "duration": args.duration, "repeats": args.repeats, "clients": args.clients,
            "models": {k: v.name for k, v in models.items()}, "max_abs_diff": max_diff,
            "notes": servers.notes}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "summary": summary}, indent=1))
    print(table(summary, args.clients))
    return 0


def measure(results: dict, found: dict[str, tuple], name: str, batch: int, args: argparse.Namespace) -> None:
    labels = list(found)
    weight = (2 if batch > 1 else 1) * (2 if name == "resnet50" else 1)  # slow points get longer windows
    for clients in args.clients:
        key = f"{name} batch {batch}"
        for repeat in range(args.repeats):
            shift = (repeat + clients) % len(labels)
            for label in labels[shift:] + labels[:shift]:  # rotate the order
                make, _, pid = found[label]
                r = run_load(make, clients, args.duration * weight, pid)
                results.setdefault(key, {}).setdefault(label, {}).setdefault(str(clients), []).append(r)
                print(f"# {key} clients {clients:2d} {label:24s} {r['rps'] * batch:8.1f} samples/s "
                      f"(load {r['loadavg']:.1f}, {r['errors']} dropped)", flush=True)  # fmt: skip


def summarize(results: dict) -> dict:
    summary: dict = {}
    for key, by_label in results.items():
        summary[key] = {}
        for label, by_clients in by_label.items():
            summary[key][label] = {}
            for clients, runs in by_clients.items():
                lat = np.array([x for r in runs for x in r["latencies"]]) * 1e3
                base = statistics.median(r["rps"] for r in by_label["in-process ORT"][clients])
                rps = statistics.median(r["rps"] for r in runs)
                cpu = [r["server_cpu"] for r in runs if r["server_cpu"] is not None]
                summary[key][label][clients] = {
                    "rps": rps, "ratio": rps / base if base else None,
                    "p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
                    "p99_ms": float(np.percentile(lat, 99)) if lat.size else None,
                    "rps_runs": [round(r["rps"], 2) for r in runs], "errors": sum(r["errors"] for r in runs),
                    "server_cpu": statistics.median(cpu) if cpu else None,
                    "loadavg": [round(r["loadavg"], 1) for r in runs],
                }  # fmt: skip
    return summary


def pool(paths: list[Path], out: Path) -> int:
    """Pool runs: median req/s over every repeat of every run; p50 / p99 the median of the runs' values."""
    runs = [json.loads(p.read_text()) for p in paths]
    summary: dict = {}
    for key, by_label in runs[0]["summary"].items():
        summary[key] = {}
        for label, by_clients in by_label.items():
            summary[key][label] = {}
            for c in by_clients:
                cells = [r["summary"][key][label][c] for r in runs]
                summary[key][label][c] = {
                    "rps": statistics.median(x for cell in cells for x in cell["rps_runs"]),
                    "p50_ms": statistics.median(cell["p50_ms"] for cell in cells),
                    "p99_ms": statistics.median(cell["p99_ms"] for cell in cells),
                    "rps_runs": [x for cell in cells for x in cell["rps_runs"]],
                    "loadavg": [x for cell in cells for x in cell["loadavg"]],
                }
        for by_clients in summary[key].values():
            for c, cell in by_clients.items():
                cell["ratio"] = cell["rps"] / summary[key]["in-process ORT"][c]["rps"]
    clients = runs[0]["meta"]["clients"]
    meta = {"pooled_from": [p.name for p in paths], "clients": clients, "runs": [r["meta"] for r in runs]}
    out.write_text(json.dumps({"meta": meta, "summary": summary}, indent=1))
    print(table(summary, clients))
    return 0


def table(summary: dict, clients: list[int]) -> str:
    lines = []
    for key, by_label in summary.items():
        lines += ["", f"**{key}** — req/s (x in-process), p50 / p99 ms", ""]
        lines.append("| variant | " + " | ".join(f"{c} client{'s' * (c > 1)}" for c in clients) + " |")
        lines.append("|---|" + "---|" * len(clients))
        for label, by_clients in by_label.items():
            cells = []
            for c in clients:
                s = by_clients.get(str(c))
                cells.append(
                    "—" if s is None else f"{s['rps']:.1f} ({s['ratio']:.2f}x), {s['p50_ms']:.1f} / {s['p99_ms']:.1f}"
                )
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- overhead
def tiny_model(path: Path) -> Path:
    """A small conv net (about 0.1 ms per run) to expose each server's own per-request cost."""
    import onnx_ir as ir

    from modelps.io import save

    text = (
        '<ir_version: 8, opset_import: ["" : 17]>\n'
        "tiny (float[N,3,32,32] x) => (float[N,8] y) {"
        " c = Conv <pads = [1, 1, 1, 1]> (x, K)  r = Relu(c)  g = GlobalAveragePool(r)  y = Flatten <axis = 1> (g) }"
    )
    kernel = ir.tensor(np.random.default_rng(0).standard_normal((8, 3, 3, 3)).astype(np.float32), name="K")
    save(ir.from_onnx_text(text, initializers=[kernel]), path)
    return path


def overhead(args: argparse.Namespace) -> int:
    """Median p50 latency of a tiny model at 1 client: in-process vs modelps (binary, JSON, gRPC) and the wrapper."""
    import onnxruntime as ort

    work = Path(tempfile.mkdtemp(prefix="modelps-bench-"))
    model = tiny_model(work / "tiny.onnx")
    args.mlserver_venv = args.mlserver_venv if (args.mlserver_venv / "bin" / "python").exists() else Path("/none")
    args.pytriton_venv = Path("/none")
    servers = Servers({"tiny": model}, args, work)
    try:
        x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        found = variants(servers, "tiny", x, "x", "y", session)
        found.pop("MLServer gRPC", None)
        p50: dict[str, list[float]] = {k: [] for k in found}
        for _ in range(args.repeats * 2):
            for label, (make, _, pid) in found.items():
                r = run_load(make, 1, 2.0, pid)
                p50[label].append(float(np.percentile(r["latencies"], 50)) * 1e3)
    finally:
        servers.stop()
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(p50["in-process ORT"])
    print("| tiny model, 1 client | p50 ms (median of repeats) | overhead over in-process ms |")
    print("|---|---|---|")
    for label, values in p50.items():
        print(f"| {label} | {statistics.median(values):.3f} | {statistics.median(values) - base:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
