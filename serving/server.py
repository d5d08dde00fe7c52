"""Running the server: in the foreground (the CLI) or on a background thread (tests, the editor UI)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from serving.app import create_app
from serving.errors import ServingError
from serving.metrics import Metrics
from serving.models import ModelManager
from serving.settings import ServerSettings

__all__ = ["ServerHandle", "prepare", "run", "start_background"]

logger = logging.getLogger(__name__)


def prepare(settings: ServerSettings) -> tuple[Any, ModelManager, Any]:
    """Check the settings, load the models and build the app: ``(app, manager, api)``.

    Raises:
        ServingError: Unsafe settings, or a model named in ``settings.models`` failed to load.
    """
    settings.check()
    metrics = Metrics()
    manager = ModelManager(settings, metrics)
    names = settings.models if settings.models is not None else tuple(manager.repository.names())
    for name in names:
        try:
            manager.load(name)
        except Exception as exc:
            if settings.models is not None:
                manager.close()
                raise
            logger.error("model %s not loaded: %s", name, exc)
    app, api = create_app(settings, manager, metrics)
    return app, manager, api


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServingError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _uvicorn_server(app: Any) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", server_header=False, timeout_keep_alive=75
    )
    return uvicorn.Server(config)


@dataclasses.dataclass
class ServerHandle:
    """A server running on a background thread; use as a context manager or call :meth:`stop`."""

    url: str
    host: str
    port: int
    manager: ModelManager
    _server: Any
    _thread: threading.Thread
    _socket: socket.socket

    def stop(self) -> None:
        """Stop accepting requests, finish the running ones, unload every model."""
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self.manager.close()
        with contextlib.suppress(OSError):
            self._socket.close()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_background(
    repo: str | os.PathLike[str], port: int = 0, host: str = "127.0.0.1", **options: Any
) -> ServerHandle:
    """Start a server on a background thread and return once it accepts requests.

    Args:
        repo: The model repository folder.
        port: TCP port; 0 picks a free one (see ``handle.url``).
        host: Address to listen on.
        **options: Other :class:`ServerSettings` fields (``api_key``, ``max_body_bytes``, ``ort``...).

    Example::

        with serving.start_background("repo") as server:
            print(server.url)   # http://127.0.0.1:39313
    """
    settings = ServerSettings(repo=Path(repo), host=host, port=port, **options)
    app, manager, api = prepare(settings)
    try:
        sock = _bind(host, port)
    except BaseException:
        manager.close()
        raise
    server = _uvicorn_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="modelps-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            manager.close()
            raise ServingError("the server thread failed to start (see the log)")
        time.sleep(0.01)
    api.ready = True
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    logger.info("serving %s at http://%s:%d", settings.repo, shown, bound)
    return ServerHandle(f"http://{shown}:{bound}", host, bound, manager, server, thread, sock)


def run(settings: ServerSettings) -> None:
    """Serve in the foreground until interrupted (Ctrl-C / SIGTERM)."""
    app, manager, api = prepare(settings)
    try:
        sock = _bind(settings.host, settings.port)
        server = _uvicorn_server(app)
        api.ready = True
        logger.info("serving %s at http://%s:%d", settings.repo, settings.host, sock.getsockname()[1])
        server.run(sockets=[sock])
    finally:
        manager.close()
