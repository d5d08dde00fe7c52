"""The HTTP application: Open Inference Protocol routes over a :class:`ModelManager`.

Thin by design: each route decodes, delegates and encodes. Model execution happens on the model
workers' threads; loading and unloading on a worker thread of the event loop's default executor.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelps import __version__
from modelps.errors import ModelPSError
from serving.metrics import Metrics
from serving.models import ModelManager
from serving.protocol import ProtocolError, decode_request, encode_response, error_body
from serving.settings import ServerSettings

__all__ = ["create_app"]

logger = logging.getLogger(__name__)
access = logging.getLogger("serving.access")

Endpoint = Callable[[Request], Awaitable[Response]]
EXTENSIONS = ["binary_tensor_data", "model_repository", "metrics"]


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(error_body(message), status_code=status, media_type="application/json", headers=headers)


class _Api:
    def __init__(self, settings: ServerSettings, manager: ModelManager, metrics: Metrics) -> None:
        self.settings = settings
        self.manager = manager
        self.metrics = metrics
        self.ready = False
        self._key = settings.api_key.encode() if settings.api_key else None

    # -- helpers -------------------------------------------------------------------------------
    def authorize(self, request: Request, *, required: bool) -> None:
        if not required or self._key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self._key):
            raise ProtocolError(401, "missing or wrong API key (send 'Authorization: Bearer KEY')")

    async def read_body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ProtocolError(413, f"request body of {int(declared)} bytes exceeds the {limit}-byte limit")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ProtocolError(413, f"request body exceeds the {limit}-byte limit")
            chunks.append(chunk)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        encoding = request.headers.get("content-encoding", "identity").lower()
        if encoding in {"gzip", "deflate"}:
            body = _decompress(body, encoding, limit)
        elif encoding != "identity":
            raise ProtocolError(400, f"unsupported Content-Encoding {encoding!r} (use gzip or deflate)")
        return body

    # -- health and metadata -------------------------------------------------------------------
    async def live(self, request: Request) -> Response:
        return _json({"live": True})

    async def server_ready(self, request: Request) -> Response:
        return _json({"ready": self.ready}, 200 if self.ready else 503)

    async def server_metadata(self, request: Request) -> Response:
        self.authorize(request, required=self.settings.auth_inference)
        return _json({"name": "modelps", "version": __version__, "extensions": EXTENSIONS})

    async def model_metadata(self, request: Request) -> Response:
        self.authorize(request, required=self.settings.auth_inference)
        model, version, _ = self.manager.get(request.path_params["name"], request.path_params.get("version"))
        data = model.metadata()
        if "version" in request.path_params:
            data["versions"] = [str(version)]
        return _json(data)

    async def model_ready(self, request: Request) -> Response:
        self.authorize(request, required=self.settings.auth_inference)
        name = request.path_params["name"]
        _, version, _ = self.manager.get(name, request.path_params.get("version"))
        return _json({"name": name, "version": str(version), "ready": True})

    async def model_config(self, request: Request) -> Response:
        self.authorize(request, required=self.settings.auth_inference)
        model, _, _ = self.manager.get(request.path_params["name"], request.path_params.get("version"))
        return _json(model.config.to_json())

    # -- inference -----------------------------------------------------------------------------
    async def infer(self, request: Request) -> Response:
        self.authorize(request, required=self.settings.auth_inference)
        name = request.path_params["name"]
        model, version, worker = self.manager.get(name, request.path_params.get("version"))
        started = time.perf_counter()
        self.metrics.requests.labels(name).inc()
        try:
            body = await self.read_body(request)
            decoded = decode_request(body, request.headers.get("inference-header-content-length"), model.config)
            results = await worker.submit(decoded)
            payload, header_length = encode_response(name, version, decoded, results, model.datatypes)
        except ProtocolError as exc:
            self.metrics.failures.labels(name, str(exc.status)).inc()
            raise
        elapsed = time.perf_counter() - started
        self.metrics.latency.labels(name).observe(elapsed)
        if access.isEnabledFor(logging.DEBUG):
            access.debug("infer", extra={"model": name, "version": version, "ms": round(elapsed * 1e3, 3)})
        if header_length is None:
            return Response(payload, media_type="application/json")
        headers = {"Inference-Header-Content-Length": str(header_length)}
        return Response(payload, media_type="application/octet-stream", headers=headers)

    # -- repository ----------------------------------------------------------------------------
    def _repository_guard(self, request: Request) -> None:
        if not self.settings.repository_api:
            raise ProtocolError(403, "the repository API is turned off on this server (--no-repository-api)")
        self.authorize(request, required=True)

    async def repository_index(self, request: Request) -> Response:
        self._repository_guard(request)
        body = await self.read_body(request)
        entries = self.manager.index()
        if body.strip():
            try:
                options = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise ProtocolError(400, f"the request is not valid JSON ({exc})") from None
            if isinstance(options, dict) and options.get("ready"):
                entries = [e for e in entries if e["state"] == "READY"]
        return _json(entries)

    async def load(self, request: Request) -> Response:
        self._repository_guard(request)
        name = request.path_params["name"]
        body = await self.read_body(request)
        if body.strip():
            try:
                options = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise ProtocolError(400, f"the request is not valid JSON ({exc})") from None
            params = options.get("parameters", {}) if isinstance(options, dict) else {}
            if params:
                raise ProtocolError(400, f"load parameters {sorted(params)} are not supported; publish a new version")
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.manager.load, name)
        except ModelPSError as exc:
            raise ProtocolError(400, f"failed to load {name!r}: {exc}") from None
        return _json({})

    async def unload(self, request: Request) -> Response:
        self._repository_guard(request)
        name = request.path_params["name"]
        await self.read_body(request)
        await asyncio.get_running_loop().run_in_executor(None, self.manager.unload, name)
        return _json({})

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    decompressor = zlib.decompressobj(wbits)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ProtocolError(400, f"the {encoding} request body is corrupt ({exc})") from None
    if len(data) > limit:
        raise ProtocolError(413, f"the decompressed request body exceeds the {limit}-byte limit")
    return data


def _route(path: str, endpoint: Endpoint, metrics: Metrics, methods: list[str]) -> Route:
    counter_ok = metrics.http.labels(path, "200")

    async def handle(request: Request) -> Response:
        try:
            response = await endpoint(request)
        except ProtocolError as exc:
            response = _error(exc.status, exc.message)
        except Exception as exc:  # never let one request take the server down
            logger.exception("unexpected error on %s", request.url.path)
            response = _error(500, f"internal error: {type(exc).__name__}: {exc}")
        if response.status_code == 200:
            counter_ok.inc()
        else:
            metrics.http.labels(path, str(response.status_code)).inc()
        return response

    return Route(path, handle, methods=methods)


def create_app(settings: ServerSettings, manager: ModelManager, metrics: Metrics) -> tuple[Starlette, _Api]:
    """Build the ASGI app; returns it with its API object (whose ``ready`` flag the server sets)."""
    api = _Api(settings, manager, metrics)
    model = "/v2/models/{name}"
    version = "/v2/models/{name}/versions/{version}"
    table: list[tuple[str, Endpoint, list[str]]] = [
        ("/v2/health/live", api.live, ["GET"]),
        ("/v2/health/ready", api.server_ready, ["GET"]),
        ("/v2", api.server_metadata, ["GET"]),
        (model, api.model_metadata, ["GET"]),
        (version, api.model_metadata, ["GET"]),
        (f"{model}/ready", api.model_ready, ["GET"]),
        (f"{version}/ready", api.model_ready, ["GET"]),
        (f"{model}/config", api.model_config, ["GET"]),
        (f"{version}/config", api.model_config, ["GET"]),
        (f"{model}/infer", api.infer, ["POST"]),
        (f"{version}/infer", api.infer, ["POST"]),
        ("/v2/repository/index", api.repository_index, ["POST"]),
        ("/v2/repository/models/{name}/load", api.load, ["POST"]),
        ("/v2/repository/models/{name}/unload", api.unload, ["POST"]),
        ("/metrics", api.metrics_text, ["GET"]),
    ]
    routes = [_route(path, endpoint, metrics, methods) for path, endpoint, methods in table]
    return Starlette(routes=routes), api
