"""The gRPC front: KServe v2 / Triton ``GRPCInferenceService`` on ``grpc.aio``, over the HTTP server's service.

Each method reads the message, delegates to :class:`~serving.api.InferenceService` and builds the
answer; a :class:`~serving.protocol.ProtocolError` becomes the gRPC status of :data:`serving.api.GRPC_CODES`
with the same message the HTTP API gives. Streaming inference and shared memory answer ``UNIMPLEMENTED``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from serving import proto
from serving.api import GRPC_CODES, InferenceService
from serving.config import ModelConfig
from serving.errors import ServingError
from serving.grpc_codec import decode_infer, encode_infer, from_dict
from serving.protocol import InferRequest, ProtocolError

__all__ = ["start_grpc"]

logger = logging.getLogger(__name__)

Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


def _authorization(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode()
    return None


class _Grpc:
    """The RPC handlers; ``service`` does the work."""

    def __init__(self, service: InferenceService) -> None:
        self.service = service

    def _inference_auth(self, context: grpc.aio.ServicerContext) -> None:
        if self.service.settings.auth_inference:
            self.service.authorize_inference(_authorization(context))

    # -- health and metadata -------------------------------------------------------------------
    async def ServerLive(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        return proto.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        return proto.ServerReadyResponse(ready=self.service.ready)

    async def ServerMetadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self._inference_auth(context)
        return from_dict(self.service.server_metadata(), proto.ServerMetadataResponse)

    async def ModelReady(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self._inference_auth(context)
        try:
            self.service.manager.get(request.name, request.version)
        except ProtocolError as exc:
            if exc.status != 404:
                raise
            return proto.ModelReadyResponse(ready=False)
        return proto.ModelReadyResponse(ready=True)

    async def ModelMetadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self._inference_auth(context)
        data = self.service.model_metadata(request.name, request.version)
        return from_dict(data, proto.ModelMetadataResponse)

    async def ModelConfig(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self._inference_auth(context)
        data = self.service.model_config(request.name, request.version)
        return from_dict({"config": data}, proto.ModelConfigResponse)

    async def ModelStatistics(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self._inference_auth(context)
        data = self.service.statistics(request.name, request.version)
        return from_dict(data, proto.ModelStatisticsResponse)

    # -- inference -----------------------------------------------------------------------------
    async def ModelInfer(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self._inference_auth(context)
        name = request.model_name

        async def decode(config: ModelConfig) -> InferRequest:
            return decode_infer(request, config)

        model, version, decoded, results = await self.service.infer(name, request.model_version, decode)
        return encode_infer(name, version, decoded, results, model.datatypes)

    async def ModelStreamInfer(self, requests: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        raise ProtocolError(501, "streaming inference is not supported by modelps serve; use ModelInfer")

    # -- repository ----------------------------------------------------------------------------
    async def RepositoryIndex(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self.service.authorize_repository(_authorization(context))
        return from_dict({"models": self.service.index(request.ready)}, proto.RepositoryIndexResponse)

    async def RepositoryModelLoad(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self.service.authorize_repository(_authorization(context))
        await self.service.load(request.model_name, dict(request.parameters))
        return proto.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self.service.authorize_repository(_authorization(context))
        await self.service.unload(request.model_name)
        return proto.RepositoryModelUnloadResponse()

    # -- settings and shared memory (answered, not implemented) ---------------------------------
    async def TraceSetting(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self._inference_auth(context)
        update = {key: list(value.value) or None for key, value in request.settings.items()}
        data = self.service.trace_settings(request.model_name, update)
        settings = {key: {"value": value if isinstance(value, list) else [value]} for key, value in data.items()}
        return from_dict({"settings": settings}, proto.TraceSettingResponse)

    async def LogSettings(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        if request.settings:
            self.service.authorize_repository(_authorization(context))
        else:
            self._inference_auth(context)
        update = {key: getattr(value, value.WhichOneof("parameter_choice")) for key, value in request.settings.items()}
        data = self.service.log_settings(update)
        settings = {key: {_LOG_FIELDS[type(value)]: value} for key, value in data.items()}
        return from_dict({"settings": settings}, proto.LogSettingsResponse)

    async def SystemSharedMemoryStatus(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self._inference_auth(context)
        self.service.shared_memory_status("system", request.name)
        return proto.SystemSharedMemoryStatusResponse()

    async def CudaSharedMemoryStatus(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self._inference_auth(context)
        self.service.shared_memory_status("CUDA", request.name)
        return proto.CudaSharedMemoryStatusResponse()

    async def SystemSharedMemoryRegister(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self.service.shared_memory_register("system")

    async def CudaSharedMemoryRegister(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        self.service.shared_memory_register("CUDA")

    async def SystemSharedMemoryUnregister(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        return proto.SystemSharedMemoryUnregisterResponse()

    async def CudaSharedMemoryUnregister(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        return proto.CudaSharedMemoryUnregisterResponse()


_LOG_FIELDS = {bool: "bool_param", int: "uint32_param", str: "string_param"}


def _wrap(name: str, method: Handler, service: InferenceService) -> Handler:
    ok = service.metrics.grpc.labels(name, "OK")
    metrics = service.metrics.grpc

    async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            response = await method(request, context)
        except ProtocolError as exc:
            code = GRPC_CODES.get(exc.status, "INTERNAL")
            metrics.labels(name, code).inc()
            await context.abort(grpc.StatusCode[code], exc.message)
        except Exception as exc:  # never let one call take the server down
            if isinstance(exc, grpc.aio.AbortError):
                raise
            logger.exception("unexpected error in %s", name)
            metrics.labels(name, "INTERNAL").inc()
            await context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        ok.inc()
        return response

    return handle


def _handler(service: InferenceService) -> grpc.GenericRpcHandler:
    servicer = _Grpc(service)
    handlers = {}
    for name, method in proto.METHODS.items():
        request_type = proto.message_class(method.input_type.full_name)
        response_type = proto.message_class(method.output_type.full_name)
        handle = _wrap(name, getattr(servicer, name), service)
        if method.client_streaming:
            handlers[name] = grpc.stream_stream_rpc_method_handler(
                handle, request_type.FromString, response_type.SerializeToString
            )
        else:
            handlers[name] = grpc.unary_unary_rpc_method_handler(
                handle, request_type.FromString, response_type.SerializeToString
            )
    return grpc.method_handlers_generic_handler(proto.SERVICE, handlers)


async def start_grpc(service: InferenceService, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    """Start the gRPC server on the running event loop; return it with the bound port (``port`` 0: a free one).

    Raises:
        ServingError: The address cannot be bound.
    """
    limit = service.settings.max_body_bytes
    options = [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", -1),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.aio.server(options=options)
    server.add_generic_rpc_handlers((_handler(service),))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise ServingError(f"cannot listen for gRPC on {address} ({exc})") from None
    if bound == 0:
        raise ServingError(f"cannot listen for gRPC on {address} (in use?)")
    await server.start()
    return server, bound
