"""``modelps ui`` (the editor) and ``modelps up`` (the editor plus a local model server)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["register", "streamlit_command"]

logger = logging.getLogger(__name__)

APP = Path(__file__).resolve().parent / "app.py"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``ui`` and ``up`` commands."""
    ui = subparsers.add_parser(
        "ui",
        help="start the editor in the browser (Streamlit)",
        description="Start the ModelPS editor. Honours MODELPS_HOME and MODELPS_DB.",
    )
    _common(ui)
    ui.set_defaults(func=_ui)
    up = subparsers.add_parser(
        "up",
        help="start the editor and a local model server",
        description="Start `modelps serve` on $MODELPS_HOME/repository in the background, "
        "then the editor; stopping the editor stops the server.",
    )
    _common(up)
    up.add_argument("--serve-port", type=int, default=8000, help="the model server's port (default 8000)")
    up.set_defaults(func=_up)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    parser.add_argument("--db", help="session database URL (default: MODELPS_DB or SQLite in MODELPS_HOME)")


def streamlit_command(host: str, port: int) -> list[str]:
    """Return the ``streamlit run`` command line for the editor."""
    from editor_ui.opening import max_upload_mb

    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(max_upload_mb()),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",  # no "Deploy" button: this editor is not a Streamlit Cloud app
    ]


def _env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    root = str(APP.parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if args.db:
        env["MODELPS_DB"] = args.db
    return env


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """Stop ``proc`` with SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def _run_streamlit(args: argparse.Namespace) -> int:
    """Run Streamlit until it exits or this process gets SIGINT or SIGTERM; then stop it and return."""
    sys.stderr.write(f"ModelPS editor: http://{args.host}:{args.port}\n")
    proc = subprocess.Popen(streamlit_command(args.host, args.port), env=_env(args))
    stopping: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)
        if proc.poll() is None:
            proc.terminate()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while proc.poll() is None:
            try:
                proc.wait(0.5)
            except subprocess.TimeoutExpired:
                continue
    finally:
        code = _stop(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopping else code


def _ui(args: argparse.Namespace) -> int:
    return _run_streamlit(args)


def _up(args: argparse.Namespace) -> int:
    from editor_ui import panels

    if args.db:
        os.environ["MODELPS_DB"] = args.db
    started = False
    if panels.serving_available():
        outcome = panels.start_server(args.serve_port)
        sys.stderr.write(f"Model server: {outcome.message}\n")
        started = outcome.ok
    else:
        sys.stderr.write("Model server: serving is not installed; starting the editor only\n")
    try:
        return _run_streamlit(args)
    finally:
        if started:
            panels.stop_server()
