"""The local model server the UI (or ``modelps up``) starts: process control, state file, HTTP helper."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from editor_ui.actions import Outcome
from editor_ui.workspace import home

__all__ = [
    "ServerState",
    "child_env",
    "free_port",
    "http",
    "repository",
    "safe_name",
    "served_models",
    "server_state",
    "start_server",
    "stop_server",
]


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


def child_env() -> dict[str, str]:
    """The environment for ``modelps`` child processes: this checkout first on the path, the same home."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["MODELPS_HOME"] = str(home())
    return env


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


def http(url: str, body: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
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
        return http(f"http://127.0.0.1:{port}/v2/health/live", timeout=1.0)[0] == 200
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
        env=child_env(),
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
        status, index = http(f"{state.url}/v2/repository/index", {}, timeout=5)
    except OSError:
        return []
    if status != 200 or not isinstance(index, list):
        return []
    return sorted(m["name"] for m in index if str(m.get("state", "READY")).upper() == "READY")
