"""Running the server: in the foreground (the CLI) or on a background thread (tests, the editor UI).

One process, one event loop, one model registry: the HTTP app (uvicorn) and, unless turned off,
the gRPC service (``grpc.aio``) both answer from the same :class:`~serving.api.InferenceService`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from serving.api import InferenceService
from serving.app import create_app
from serving.errors import ServingError
from serving.metrics import Metrics
from serving.models import ModelManager
from serving.settings import ServerSettings

__all__ = ["ServerHandle", "prepare", "run", "start_background"]

logger = logging.getLogger(__name__)


def prepare(settings: ServerSettings) -> InferenceService:
    """Check the settings and load the models.

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
    return InferenceService(settings, manager, metrics)


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


class _Stack:
    """The HTTP server and the gRPC server of one :class:`InferenceService`, run on one event loop."""

    def __init__(self, service: InferenceService, sock: socket.socket) -> None:
        import uvicorn

        self.service = service
        self.sock = sock
        config = uvicorn.Config(
            create_app(service), log_level="warning", access_log=False, lifespan="off", server_header=False,
            timeout_keep_alive=75,
        )  # fmt: skip
        self.http = uvicorn.Server(config)
        self.loop_factory = config.get_loop_factory()
        self.grpc_port: int | None = None
        self.error: BaseException | None = None
        self.started = threading.Event()

    def run(self) -> None:
        """Serve until :meth:`stop` (or a signal, on the main thread); errors at start end up in ``error``."""
        with asyncio.Runner(loop_factory=self.loop_factory) as runner:
            runner.run(self._serve())

    def stop(self) -> None:
        """Ask both servers to finish the running requests and stop."""
        self.http.should_exit = True

    async def _serve(self) -> None:
        settings = self.service.settings
        grpc_server = None
        try:
            if settings.grpc_port is not None:
                try:
                    from serving.grpc_app import start_grpc
                except ImportError as exc:
                    raise ServingError(
                        f"gRPC needs grpcio and protobuf ({exc}): pip install 'modelps[serve]', or pass --grpc-port 0"
                    ) from None
                grpc_server, self.grpc_port = await start_grpc(self.service, settings.host, settings.grpc_port)
            task = asyncio.create_task(self.http.serve(sockets=[self.sock]))
            while not self.http.started and not task.done():
                await asyncio.sleep(0.01)
            if task.done():
                task.result()
                raise ServingError("the HTTP server stopped at start (see the log)")
        except BaseException as exc:
            self.error = exc
            self.started.set()
            if grpc_server is not None:
                await grpc_server.stop(None)
            return
        self.service.ready = True
        self.started.set()
        try:
            await task
        finally:
            self.service.ready = False
            if grpc_server is not None:
                await grpc_server.stop(grace=5)


def _urls(settings: ServerSettings, port: int, grpc_port: int | None) -> tuple[str, str | None]:
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{shown}:{port}", (f"{shown}:{grpc_port}" if grpc_port is not None else None)


@dataclasses.dataclass
class ServerHandle:
    """A server running on a background thread; use as a context manager or call :meth:`stop`.

    Attributes:
        url: The HTTP base URL (``http://127.0.0.1:PORT``).
        grpc_url: ``host:port`` of the gRPC service (what ``tritonclient.grpc`` takes), ``None`` when off.
    """

    url: str
    host: str
    port: int
    manager: ModelManager
    _stack: _Stack
    _thread: threading.Thread
    grpc_url: str | None = None

    def stop(self) -> None:
        """Stop accepting requests, finish the running ones, unload every model."""
        self._stack.stop()
        self._thread.join(timeout=30)
        self.manager.close()
        with contextlib.suppress(OSError):
            self._stack.sock.close()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_background(
    repo: str | os.PathLike[str],
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    grpc_port: int | None = None,
    **options: Any,
) -> ServerHandle:
    """Start a server on a background thread and return once it accepts requests.

    Args:
        repo: The model repository folder.
        port: HTTP port; 0 picks a free one (see ``handle.url``).
        host: Address to listen on.
        grpc_port: gRPC port; 0 picks a free one (``handle.grpc_url``), ``None`` (default) serves no gRPC.
        **options: Other :class:`ServerSettings` fields (``api_key``, ``max_body_bytes``, ``ort``...).

    Example::

        with serving.start_background("repo", grpc_port=0) as server:
            print(server.url, server.grpc_url)   # http://127.0.0.1:39313 127.0.0.1:40215
    """
    settings = ServerSettings(repo=Path(repo), host=host, port=port, grpc_port=grpc_port, **options)
    service = prepare(settings)
    try:
        sock = _bind(host, port)
    except BaseException:
        service.manager.close()
        raise
    stack = _Stack(service, sock)
    thread = threading.Thread(target=stack.run, name="modelps-server", daemon=True)
    thread.start()
    if not stack.started.wait(timeout=60) or stack.error is not None:
        stack.stop()
        thread.join(timeout=30)
        service.manager.close()
        sock.close()
        if isinstance(stack.error, ServingError):
            raise stack.error
        raise ServingError(f"the server failed to start: {stack.error or 'timed out'}")
    url, grpc_url = _announce(stack)
    return ServerHandle(url, host, sock.getsockname()[1], service.manager, stack, thread, grpc_url)


def run(settings: ServerSettings) -> None:
    """Serve in the foreground until interrupted (Ctrl-C / SIGTERM).

    Raises:
        ServingError: A port cannot be bound or a model named in the settings failed to load.
    """
    service = prepare(settings)
    try:
        sock = _bind(settings.host, settings.port)
        stack = _Stack(service, sock)
        threading.Thread(target=_announce, args=(stack,), daemon=True).start()
        stack.run()
        if stack.error is not None:
            raise stack.error
    finally:
        service.manager.close()


def _announce(stack: _Stack) -> tuple[str, str | None]:
    """Wait until the servers run, log their addresses and return ``(http url, grpc host:port)``."""
    stack.started.wait()
    settings = stack.service.settings
    url, grpc_url = _urls(settings, stack.sock.getsockname()[1], stack.grpc_port)
    if stack.error is None:
        if grpc_url is not None:
            logger.info("gRPC (KServe v2 GRPCInferenceService) at %s", grpc_url)
        logger.info("serving %s at %s", settings.repo, url)
    return url, grpc_url
