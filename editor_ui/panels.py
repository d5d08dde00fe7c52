"""The Genie, Serve and Share pages' logic over ``genie``, ``serving`` and ``modelps.sessions``.

Each back end is imported lazily; ``*_available()`` says whether it is installed. Every action
returns an :class:`~editor_ui.actions.Outcome` with the message to show.
"""

from __future__ import annotations

import dataclasses
import io as _io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from editor_ui.actions import Outcome, describe_edit
from editor_ui.workspace import Workspace, home
from modelps.errors import ModelPSError

__all__ = [
    "GenieRequest",
    "ServerState",
    "apply_candidate",
    "candidate_rows",
    "free_port",
    "genie_available",
    "grant",
    "member_rows",
    "open_session",
    "pareto_flags",
    "pareto_spec",
    "publish",
    "repository",
    "run_genie",
    "safe_name",
    "stage_fraction",
    "served_models",
    "server_state",
    "serving_available",
    "sessions_available",
    "share_workspace",
    "start_server",
    "stop_server",
    "try_model",
]

logger = logging.getLogger(__name__)


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------- genie


def genie_available() -> bool:
    """Whether the genie package is installed."""
    return _importable("genie")


@dataclasses.dataclass(frozen=True)
class GenieRequest:
    """The genie form: backend, a speed-up or latency target, fidelity floor, time budget, methods."""

    backend: str
    target_speedup: float | None
    target_latency_ms: float | None
    min_fidelity: float
    budget_s: float
    methods: tuple[str, ...]


def pareto_flags(points: list[tuple[float, float]]) -> list[bool]:
    """For (latency, fidelity) points, whether each is on the Pareto front (lower latency, higher fidelity).

    >>> pareto_flags([(1.0, 0.9), (2.0, 0.95), (2.5, 0.94), (0.5, 0.8)])
    [True, True, False, True]
    """
    flags = []
    for i, (lat, fid) in enumerate(points):
        dominated = any(
            (l2 <= lat and f2 >= fid) and (l2 < lat or f2 > fid) for j, (l2, f2) in enumerate(points) if j != i
        )
        flags.append(not dominated)
    return flags


def _fidelity(value: Any) -> float:
    if isinstance(value, dict):
        value = value.get("centered_cosine", float("nan"))
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def candidate_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows for a genie result (its JSON form): one per candidate, with Pareto flags.

    Fidelity is the centered cosine against the original; missing ``pareto`` flags are computed here.
    """
    candidates = list(result.get("candidates") or [])
    recommended = result.get("recommended")
    recommended_name = recommended.get("name") if isinstance(recommended, dict) else None
    rows = []
    for index, cand in enumerate(candidates):
        recipe = cand.get("recipe") or {}
        edits = recipe.get("edits", []) if isinstance(recipe, dict) else list(recipe)
        rows.append(
            {
                "candidate": index,
                "name": str(cand.get("name", f"#{index}")),
                "latency_ms": float(cand.get("latency_ms", float("nan"))),
                "speedup": float(cand.get("speedup", float("nan"))),
                "fidelity": _fidelity(cand.get("fidelity")),
                "size_mb": float(cand.get("size_bytes", 0)) / 1e6,
                "pareto": cand.get("pareto"),
                "recommended": recommended_name is not None and cand.get("name") == recommended_name,
                "edits": "; ".join(describe_edit(e) for e in edits) or "(none)",
                "explanation": str(cand.get("explanation", "")),
            }
        )
    if rows and any(r["pareto"] is None for r in rows):
        for row, flag in zip(rows, pareto_flags([(r["latency_ms"], r["fidelity"]) for r in rows]), strict=True):
            row["pareto"] = flag
    return rows


def pareto_spec(rows: list[dict[str, Any]], baseline_ms: float | None = None) -> dict[str, Any]:
    """Return an ECharts scatter of latency vs fidelity with the Pareto front drawn as a line."""
    front = sorted((r["latency_ms"], r["fidelity"]) for r in rows if r["pareto"])
    others = [[r["latency_ms"], r["fidelity"], r["candidate"]] for r in rows if not r["pareto"]]
    series: list[dict[str, Any]] = [
        {"name": "candidates", "type": "scatter", "symbolSize": 10, "data": others},
        {"name": "Pareto front", "type": "line", "step": False, "symbolSize": 12, "data": [list(p) for p in front]},
    ]
    if baseline_ms:
        series.append(
            {"name": "original", "type": "scatter", "symbol": "diamond", "symbolSize": 14, "data": [[baseline_ms, 1.0]]}
        )
    return {
        "legend": {"top": 0},
        "tooltip": {"trigger": "item"},
        "xAxis": {"type": "value", "name": "latency (ms)", "scale": True},
        "yAxis": {"type": "value", "name": "fidelity", "scale": True},
        "series": series,
    }


GENIE_STAGES = ("calibrate", "quantize", "profile", "sensitivity", "trajectory", "build", "measure")


def stage_fraction(stage: str, done: int, total: int) -> float:
    """Overall progress in [0, 1] from the genie's ``(stage, done, total)`` reports.

    >>> stage_fraction("calibrate", 0, 1), stage_fraction("measure", 1, 1)
    (0.0, 1.0)
    """
    index = GENIE_STAGES.index(stage) if stage in GENIE_STAGES else len(GENIE_STAGES) - 1
    part = done / total if total else 1.0
    return min(1.0, (index + min(max(part, 0.0), 1.0)) / len(GENIE_STAGES))


def run_genie(
    ws: Workspace, request: GenieRequest, progress: Callable[[float, str], None]
) -> tuple[Outcome, dict[str, Any] | None]:
    """Run the genie's search on the current model; returns the result as its JSON dict.

    Candidates' recipes start from the current revision. ``progress(fraction, text)`` is called as
    the search goes.
    """
    try:
        from genie import Goal, search
    except ImportError:
        return Outcome(False, "The genie is not installed."), None

    def report(stage: str, done: int, total: int) -> None:
        progress(stage_fraction(stage, done, total), f"{stage}: {done}/{total}")

    with tempfile.TemporaryDirectory(prefix="modelps-genie-") as tmp:
        path = ws.model.save(Path(tmp, "model.onnx"))
        try:
            goal = Goal(
                backend=request.backend,
                target_speedup=request.target_speedup,
                target_latency_ms=request.target_latency_ms,
                min_fidelity=request.min_fidelity,
                budget_s=request.budget_s,
                methods=request.methods,
            )
            result = search(path, goal, progress=report)
        except ModelPSError as exc:
            return Outcome(False, f"The search failed: {exc}"), None
    data = result.to_dict()
    count = len(data.get("candidates") or [])
    return Outcome(True, f"Found {count} candidate{'s' if count != 1 else ''}."), data


def apply_candidate(ws: Workspace, result: dict[str, Any], index: int) -> Outcome:
    """Apply candidate ``index``'s recipe to the workspace, one revision per edit."""
    from editor_ui.actions import apply_recipe_text

    candidates = result.get("candidates") or []
    if not 0 <= index < len(candidates):
        return Outcome(False, f"There is no candidate #{index}.")
    recipe = candidates[index].get("recipe")
    if isinstance(recipe, list):
        recipe = {"modelps_recipe": 1, "edits": recipe}
    recipe = {k: v for k, v in dict(recipe).items() if k != "base"}
    return apply_recipe_text(ws, json.dumps(recipe))


# ---------------------------------------------------------------- serving


def serving_available() -> bool:
    """Whether the serving package is installed."""
    return _importable("serving")


def repository() -> Path:
    """Return the local model repository, ``$MODELPS_HOME/repository``."""
    return home() / "repository"


def safe_name(name: str) -> str:
    """Return a repository-safe model name.

    >>> safe_name("my model (v2).onnx")
    'my_model_v2_.onnx'
    """
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip(".") or "model"
    return cleaned[:128]


def _modelps(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelps", *args], capture_output=True, text=True, timeout=timeout, env=_child_env()
    )


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["MODELPS_HOME"] = str(home())
    return env


def publish(ws: Workspace, name: str, backend: str) -> Outcome:
    """Build the current model for ``backend`` and publish it to the local repository.

    If the local server is running, it is asked to load the new model.
    """
    with tempfile.TemporaryDirectory(prefix="modelps-publish-") as tmp:
        path = ws.model.save(Path(tmp, "model.onnx"))
        built = Path(tmp, "model.plan" if backend == "tensorrt" else "built.onnx")
        done = _modelps("build", str(path), "--backend", backend, "-o", str(built))
        if done.returncode != 0:
            return Outcome(False, f"Build failed: {_last_line(done.stderr)}")
        done = _modelps("publish", str(built), "--repo", str(repository()), "--name", name, "--backend", backend)
    if done.returncode != 0:
        return Outcome(False, f"Publish failed: {_last_line(done.stderr)}")
    message = f"Published {name} to {repository()}."
    state = server_state()
    if state.running:
        try:
            status, answer = _http(f"{state.url}/v2/repository/models/{name}/load", {}, timeout=120)
        except OSError as exc:
            return Outcome(False, f"{message} Loading it on the server failed: {exc}")
        if status != 200:
            return Outcome(False, f"{message} The server refused to load it ({status}): {str(answer)[:200]}")
        message += " The server loaded it."
    return Outcome(True, message)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].removeprefix("modelps: error: ") if lines else ""


@dataclasses.dataclass(frozen=True)
class ServerState:
    """The local server as the UI started it: pid, port, and whether it answers."""

    running: bool
    pid: int | None = None
    port: int | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"


def _state_file() -> Path:
    return home() / "ui-server.json"


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie child counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _http(url: str, body: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
    """GET (or POST ``body`` as JSON) and return the status and the decoded JSON (or text) answer.

    Raises:
        OSError: The server cannot be reached.
    """
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json"} if data else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback URLs
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def _live(port: int) -> bool:
    try:
        return _http(f"http://127.0.0.1:{port}/v2/health/live", timeout=1.0)[0] == 200
    except OSError:
        return False


def server_state() -> ServerState:
    """Whether the local server the UI (or ``modelps up``) started is running."""
    try:
        data = json.loads(_state_file().read_text())
        pid, port = int(data["pid"]), int(data["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return ServerState(False)
    if _alive(pid) and _live(port):
        return ServerState(True, pid, port)
    return ServerState(False, pid, port)


def start_server(port: int | None = None, *, wait_s: float = 60.0) -> Outcome:
    """Start ``modelps serve`` on the local repository in the background and wait until it answers."""
    state = server_state()
    if state.running:
        return Outcome(True, f"The server is already running at {state.url}")
    port = port or free_port()
    repository().mkdir(parents=True, exist_ok=True)
    log = open(home() / "ui-server.log", "ab")  # noqa: SIM115  (the child keeps it)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelps",
            "serve",
            "--repo",
            str(repository()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--grpc-port",
            "0",
            "--spin",
            "off",
            "--log-format",
            "text",
        ],
        stdout=log,
        stderr=log,
        env=_child_env(),
        start_new_session=True,
    )
    log.close()
    tmp = _state_file().with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"pid": proc.pid, "port": port}))
    os.replace(tmp, _state_file())
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log_path = home() / "ui-server.log"
            return Outcome(False, f"The server exited at start (code {proc.returncode}); see {log_path}")
        if _live(port):
            return Outcome(True, f"Server running at http://127.0.0.1:{port}")
        time.sleep(0.2)
    return Outcome(False, f"The server did not answer within {wait_s:.0f} s; see {home() / 'ui-server.log'}")


def stop_server() -> Outcome:
    """Stop the local server started by :func:`start_server`."""
    state = server_state()
    if state.pid is None or not _alive(state.pid):
        _state_file().unlink(missing_ok=True)
        return Outcome(True, "The server was not running.")
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(state.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(state.pid):
        os.kill(state.pid, signal.SIGKILL)
    _state_file().unlink(missing_ok=True)
    return Outcome(True, "Server stopped.")


def served_models() -> list[str]:
    """Return the names of the models the running server reports as ready."""
    state = server_state()
    if not state.running:
        return []
    try:
        status, index = _http(f"{state.url}/v2/repository/index", {}, timeout=5)
    except OSError:
        return []
    if status != 200 or not isinstance(index, list):
        return []
    return sorted(m["name"] for m in index if str(m.get("state", "READY")).upper() == "READY")


def _image_input(data: bytes, shape: list[int]) -> np.ndarray:
    """Decode an image and resize it to an NCHW float input with ImageNet normalisation."""
    from PIL import Image

    height, width = int(shape[-2]), int(shape[-1])
    image = Image.open(_io.BytesIO(data)).convert("RGB").resize((width, height))
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = (array - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    return array.transpose(2, 0, 1)[None].astype(np.float32)


def try_model(name: str, image: bytes | None = None, *, seed: int = 0) -> tuple[Outcome, dict[str, Any] | None]:
    """Send one request (an image, or seeded random input) to the served model; summarise the answer.

    Uses the Open Inference Protocol with binary tensors; returns the outputs' shapes, first values and
    norms, and the request latency.
    """
    from serving import client
    from serving.datatypes import to_numpy
    from serving.errors import ServingError

    state = server_state()
    if not state.running:
        return Outcome(False, "The server is not running."), None
    try:
        meta = client.metadata(state.url, name, timeout=10)
        feeds: dict[str, np.ndarray] = {}
        rng = np.random.default_rng(seed)
        for spec in meta["inputs"]:
            shape = [d if d > 0 else 1 for d in spec["shape"]]
            dtype = to_numpy(spec["datatype"])
            if image is not None and len(shape) == 4 and shape[1] == 3 and dtype == np.float32:
                feeds[spec["name"]] = _image_input(image, shape)
            elif np.issubdtype(dtype, np.floating):
                feeds[spec["name"]] = rng.standard_normal(shape).astype(dtype)
            else:
                feeds[spec["name"]] = rng.integers(0, 8, shape).astype(dtype)
        start = time.perf_counter()
        outputs = client.infer(state.url, name, feeds, timeout=60)
        latency_ms = (time.perf_counter() - start) * 1000
    except ServingError as exc:
        return Outcome(False, f"The request failed: {exc}"), None
    except Exception as exc:  # e.g. an undecodable image
        return Outcome(False, f"Cannot use that input: {exc}"), None
    summary = []
    for out_name, array in outputs.items():
        values = np.asarray(array, dtype=np.float64).reshape(-1)
        summary.append(
            {
                "name": out_name,
                "shape": list(array.shape),
                "datatype": str(array.dtype),
                "first values": [round(float(v), 5) for v in values[:8]],
                "norm": float(np.linalg.norm(values)) if values.size else 0.0,
            }
        )
    return Outcome(True, f"{name} answered in {latency_ms:.1f} ms"), {"latency_ms": latency_ms, "outputs": summary}


# ---------------------------------------------------------------- sessions


def sessions_available() -> bool:
    """Whether the shared session store is installed."""
    try:
        from editor_ui import shared  # noqa: F401
    except ImportError:
        return False
    return True


def open_session(session_id: str, *, user: str) -> tuple[Outcome, Workspace | None]:
    """Open shared session ``session_id`` as ``user``."""
    if not sessions_available():
        return Outcome(False, "Shared sessions are not installed here."), None
    from editor_ui import shared

    try:
        ws = shared.SessionWorkspace.open(session_id, user=user)
    except ModelPSError as exc:
        return Outcome(False, f"Cannot open session {session_id}: {exc}"), None
    return Outcome(True, f"Opened shared session {session_id} at revision {ws.revision}"), ws


def share_workspace(ws: Workspace) -> tuple[Outcome, Workspace | None]:
    """Create a shared session from a local workspace (its base model and its edits so far)."""
    from editor_ui import shared

    try:
        new = shared.SessionWorkspace.create_from(ws)
    except ModelPSError as exc:
        return Outcome(False, f"Cannot share: {exc}"), None
    return Outcome(True, f"Shared as session {new.session_id}"), new


def member_rows(ws: Workspace) -> list[dict[str, Any]]:
    """Return the session's members and roles."""
    from editor_ui import shared

    return shared.members(ws) if isinstance(ws, shared.SessionWorkspace) else []


def grant(ws: Workspace, user: str, role: str) -> Outcome:
    """Give ``user`` a ``role`` in the session."""
    from editor_ui import shared

    if not isinstance(ws, shared.SessionWorkspace):
        return Outcome(False, "Share the model first.")
    try:
        shared.grant(ws, user, role)
    except ModelPSError as exc:
        return Outcome(False, f"Cannot grant: {exc}")
    return Outcome(True, f"{user} is now {role}")
