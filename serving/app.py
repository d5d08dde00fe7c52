"""The HTTP application: Open Inference Protocol routes over an :class:`~serving.api.InferenceService`.

Thin by design: each route reads the path and body, delegates and encodes. Every answer the app
itself gives on an error, unknown routes and methods included, is ``{"error": "..."}`` JSON.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from serving.api import InferenceService
from serving.config import ModelConfig
from serving.metrics import Metrics
from serving.protocol import InferRequest, ProtocolError, decode_request, encode_response, error_body, json_object

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(error_body(message), status_code=status, media_type="application/json", headers=headers)


class _Http:
    """The route handlers; ``service`` does the work."""

    def __init__(self, service: InferenceService) -> None:
        self.service = service
        self.limit = service.settings.max_body_bytes

    async def read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            raise ProtocolError(413, f"request body of {int(declared)} bytes exceeds the {self.limit}-byte limit")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.limit:
                raise ProtocolError(413, f"request body exceeds the {self.limit}-byte limit")
            chunks.append(chunk)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        encoding = request.headers.get("content-encoding", "identity").lower()
        if encoding in {"gzip", "deflate"}:
            body = _decompress(body, encoding, self.limit)
        elif encoding != "identity":
            raise ProtocolError(400, f"unsupported Content-Encoding {encoding!r} (use gzip or deflate)")
        return body

    async def read_json(self, request: Request) -> dict[str, Any]:
        """Read an optional JSON object body (empty: ``{}``)."""
        body = await self.read_body(request)
        if not body.strip():
            return {}
        return json_object(body, "the request body must be a JSON object")

    def _inference_auth(self, request: Request) -> None:
        self.service.authorize_inference(request.headers.get("authorization"))

    def _repository_auth(self, request: Request) -> None:
        self.service.authorize_repository(request.headers.get("authorization"))

    # -- health and metadata -------------------------------------------------------------------
    async def live(self, request: Request) -> Response:
        return _json({"live": True})

    async def server_ready(self, request: Request) -> Response:
        return _json({"ready": self.service.ready}, 200 if self.service.ready else 503)

    async def server_metadata(self, request: Request) -> Response:
        self._inference_auth(request)
        return _json(self.service.server_metadata())

    async def model_metadata(self, request: Request) -> Response:
        self._inference_auth(request)
        params = request.path_params
        return _json(self.service.model_metadata(params["name"], params.get("version")))

    async def model_ready(self, request: Request) -> Response:
        self._inference_auth(request)
        name = request.path_params["name"]
        _, version, _ = self.service.manager.get(name, request.path_params.get("version"))
        return _json({"name": name, "version": str(version), "ready": True})

    async def model_config(self, request: Request) -> Response:
        self._inference_auth(request)
        params = request.path_params
        return _json(self.service.model_config(params["name"], params.get("version")))

    async def statistics(self, request: Request) -> Response:
        self._inference_auth(request)
        params = request.path_params
        return _json(self.service.statistics(params.get("name"), params.get("version")))

    # -- inference -----------------------------------------------------------------------------
    async def infer(self, request: Request) -> Response:
        self._inference_auth(request)
        name = request.path_params["name"]
        header_length = request.headers.get("inference-header-content-length")

        async def decode(config: ModelConfig) -> InferRequest:
            return decode_request(await self.read_body(request), header_length, config)

        model, version, decoded, results = await self.service.infer(name, request.path_params.get("version"), decode)
        payload, length = encode_response(name, version, decoded, results, model.datatypes)
        if length is None:
            return Response(payload, media_type="application/json")
        headers = {"Inference-Header-Content-Length": str(length)}
        return Response(payload, media_type="application/octet-stream", headers=headers)

    # -- repository ----------------------------------------------------------------------------
    async def repository_index(self, request: Request) -> Response:
        self._repository_auth(request)
        options = await self.read_json(request)
        return _json(self.service.index(bool(options.get("ready"))))

    async def load(self, request: Request) -> Response:
        self._repository_auth(request)
        options = await self.read_json(request)
        params = options.get("parameters") or {}
        await self.service.load(request.path_params["name"], params if isinstance(params, dict) else {"?": params})
        return _json({})

    async def unload(self, request: Request) -> Response:
        self._repository_auth(request)
        await self.read_body(request)
        await self.service.unload(request.path_params["name"])
        return _json({})

    # -- settings, shared memory, metrics -------------------------------------------------------
    async def trace_setting(self, request: Request) -> Response:
        self._inference_auth(request)
        update = await self.read_json(request) if request.method == "POST" else {}
        return _json(self.service.trace_settings(request.path_params.get("name"), update))

    async def log_settings(self, request: Request) -> Response:
        if request.method == "POST":
            self._repository_auth(request)
            return _json(self.service.log_settings(await self.read_json(request)))
        self._inference_auth(request)
        return _json(self.service.log_state())

    async def shm_status(self, request: Request) -> Response:
        self._inference_auth(request)
        kind = _shm_kind(request)
        return _json(self.service.shared_memory_status(kind, request.path_params.get("region")))

    async def shm_register(self, request: Request) -> Response:
        self._inference_auth(request)
        await self.read_body(request)
        self.service.shared_memory_register(_shm_kind(request))
        return _json({})

    async def shm_unregister(self, request: Request) -> Response:
        self._inference_auth(request)
        await self.read_body(request)
        return _json({})

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def _shm_kind(request: Request) -> str:
    return "CUDA" if request.url.path.startswith("/v2/cuda") else "system"


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
    disconnects = metrics.disconnects.labels(path)

    async def handle(request: Request) -> Response:
        try:
            response = await endpoint(request)
        except ProtocolError as exc:
            response = _error(exc.status, exc.message)
        except ClientDisconnect:  # the client went away mid-request: nobody to answer, not a server error
            logger.debug("client disconnected during %s %s", request.method, request.url.path)
            disconnects.inc()
            return Response(status_code=499)
        except Exception as exc:  # never let one request take the server down
            logger.exception("unexpected error on %s", request.url.path)
            response = _error(500, f"internal error: {type(exc).__name__}: {exc}")
        if response.status_code == 200:
            counter_ok.inc()
        else:
            metrics.http.labels(path, str(response.status_code)).inc()
        return response

    return Route(path, handle, methods=methods)


def _unmatched(metrics: Metrics) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            status = exc.status_code
            if status == 405:
                message = f"method {request.method} is not allowed on {request.url.path}"
            elif status == 404:
                message = f"no route {request.method} {request.url.path} (see docs/serving.md for the API)"
            else:
                message = str(exc.detail)
        else:
            logger.error("unexpected error on %s", request.url.path, exc_info=exc)
            status, message = 500, f"internal error: {type(exc).__name__}: {exc}"
        metrics.http.labels("<unmatched>", str(status)).inc()
        return _error(status, message)

    return handler


def create_app(service: InferenceService) -> Starlette:
    """Build the ASGI app over ``service``."""
    http = _Http(service)
    model = "/v2/models/{name}"
    version = "/v2/models/{name}/versions/{version}"
    get, post, both = ["GET"], ["POST"], ["GET", "POST"]
    table: list[tuple[str, Endpoint, list[str]]] = [
        ("/v2/health/live", http.live, get),
        ("/v2/health/ready", http.server_ready, get),
        ("/v2", http.server_metadata, get),
        ("/v2/models/stats", http.statistics, get),
        (model, http.model_metadata, get),
        (version, http.model_metadata, get),
        (f"{model}/ready", http.model_ready, get),
        (f"{version}/ready", http.model_ready, get),
        (f"{model}/config", http.model_config, get),
        (f"{version}/config", http.model_config, get),
        (f"{model}/stats", http.statistics, get),
        (f"{version}/stats", http.statistics, get),
        (f"{model}/infer", http.infer, post),
        (f"{version}/infer", http.infer, post),
        ("/v2/repository/index", http.repository_index, post),
        ("/v2/repository/models/{name}/load", http.load, post),
        ("/v2/repository/models/{name}/unload", http.unload, post),
        ("/v2/trace/setting", http.trace_setting, both),
        (f"{model}/trace/setting", http.trace_setting, both),
        ("/v2/logging", http.log_settings, both),
        ("/metrics", http.metrics_text, get),
    ]
    for kind in ("systemsharedmemory", "cudasharedmemory"):
        table += [
            (f"/v2/{kind}/status", http.shm_status, get),
            (f"/v2/{kind}/region/{{region}}/status", http.shm_status, get),
            (f"/v2/{kind}/region/{{region}}/register", http.shm_register, post),
            (f"/v2/{kind}/unregister", http.shm_unregister, post),
            (f"/v2/{kind}/region/{{region}}/unregister", http.shm_unregister, post),
        ]
    metrics = service.metrics
    routes = [_route(path, endpoint, metrics, methods) for path, endpoint, methods in table]
    unmatched = _unmatched(metrics)
    return Starlette(routes=routes, exception_handlers={HTTPException: unmatched, Exception: unmatched})
