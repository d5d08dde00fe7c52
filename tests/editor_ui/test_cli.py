from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from editor_ui import panels
from editor_ui.cli import streamlit_command
from modelps.cli import build_parser


def test_ui_and_up_commands_parse() -> None:
    args = build_parser().parse_args(["ui", "--host", "0.0.0.0", "--port", "9000", "--db", "sqlite:///x.db"])
    assert (args.host, args.port, args.db) == ("0.0.0.0", 9000, "sqlite:///x.db")
    args = build_parser().parse_args(["up", "--serve-port", "8123"])
    assert (args.host, args.port, args.serve_port) == ("127.0.0.1", 8501, 8123)


def test_streamlit_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPS_UI_MAX_UPLOAD_MB", "77")
    cmd = streamlit_command("127.0.0.1", 8600)
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(cmd[4]).name == "app.py" and Path(cmd[4]).exists()
    opts = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert opts["--server.port"] == "8600" and opts["--server.address"] == "127.0.0.1"
    assert opts["--server.maxUploadSize"] == "77" and opts["--server.headless"] == "true"
    assert opts["--client.toolbarMode"] == "minimal"  # regression: Streamlit's "Deploy" button was shown


def _wait(url: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


@pytest.mark.slow
@pytest.mark.skipif(not panels.serving_available(), reason="serving is not installed")
@pytest.mark.slow
@pytest.mark.skipif(not panels.serving_available(), reason="serving is not installed")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_up_stops_both_children_when_only_it_is_signalled(tmp_path: Path, signum: int) -> None:
    """Regression: SIGTERM or SIGINT to `modelps up` alone left the model server and Streamlit running."""
    ui_port, serve_port = panels.free_port(), panels.free_port()
    env = dict(os.environ, MODELPS_HOME=str(tmp_path), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelps", "up", "--port", str(ui_port), "--serve-port", str(serve_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _wait(f"http://127.0.0.1:{serve_port}/v2/health/live"), "model server did not start"
        assert _wait(f"http://127.0.0.1:{ui_port}/_stcore/health"), "editor did not start"
    finally:
        os.kill(proc.pid, signum)  # the parent only, as a service manager or `kill PID` does
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode()[-2000:]
    for url in (f"http://127.0.0.1:{serve_port}/v2/health/live", f"http://127.0.0.1:{ui_port}/_stcore/health"):
        with pytest.raises(httpx.HTTPError):
            httpx.get(url, timeout=2)


@pytest.mark.slow
@pytest.mark.skipif(not panels.serving_available(), reason="serving is not installed")
def test_up_starts_server_and_ui_and_stops_both(tmp_path: Path) -> None:
    ui_port, serve_port = panels.free_port(), panels.free_port()
    env = dict(os.environ, MODELPS_HOME=str(tmp_path), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelps", "up", "--port", str(ui_port), "--serve-port", str(serve_port)],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _wait(f"http://127.0.0.1:{serve_port}/v2/health/live"), "model server did not start"
        assert _wait(f"http://127.0.0.1:{ui_port}/_stcore/health"), "editor did not start"
        assert (tmp_path / "repository").is_dir()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode()[-2000:]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{serve_port}/v2/health/live", timeout=2)
    assert not (tmp_path / "ui-server.json").exists()
