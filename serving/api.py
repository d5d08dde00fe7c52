"""What the HTTP and gRPC fronts share: auth, inference, statistics, repository and settings calls.

Every method raises :class:`~serving.protocol.ProtocolError` with an HTTP status; the HTTP app answers
it as is and the gRPC service maps it to a status code (:data:`GRPC_CODES`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from modelps import __version__
from modelps.errors import ModelPSError
from serving.config import ModelConfig
from serving.metrics import Metrics
from serving.models import LoadedModel, ModelManager
from serving.protocol import InferRequest, ProtocolError
from serving.settings import ServerSettings

__all__ = ["EXTENSIONS", "GRPC_CODES", "InferenceService", "Outcome"]

logger = logging.getLogger(__name__)
access = logging.getLogger("serving.access")

EXTENSIONS = [
    "binary_tensor_data",
    "model_repository",
    "statistics",
    "logging",
    "metrics",
]
"""The Open Inference Protocol extensions the server answers (``GET /v2``, ``ServerMetadata``)."""

GRPC_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "RESOURCE_EXHAUSTED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}
"""gRPC status code names for the HTTP statuses the server answers with (others: ``INTERNAL``)."""

_TRACE = {
    "trace_level": ["OFF"],
    "trace_rate": "1000",
    "trace_count": "-1",
    "log_frequency": "0",
    "trace_file": "",
    "trace_mode": "triton",
}


Outcome = tuple[LoadedModel, int, InferRequest, dict[str, np.ndarray]]
"""What :meth:`InferenceService.infer` returns: model, version, decoded request and output arrays."""


class InferenceService:
    """One server's models and settings, behind the calls both protocols make."""

    def __init__(self, settings: ServerSettings, manager: ModelManager, metrics: Metrics) -> None:
        self.settings = settings
        self.manager = manager
        self.metrics = metrics
        self.ready = False
        self._key = settings.api_key.encode() if settings.api_key else None
        self._log = {"log_verbose_level": 0}

    # -- auth ----------------------------------------------------------------------------------
    def authorize(self, authorization: str | None, *, required: bool) -> None:
        """Check an ``Authorization`` header value (``Bearer KEY``) when the key is ``required``.

        Raises:
            ProtocolError: 401 when the key is missing or wrong.
        """
        if not required or self._key is None:
            return
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self._key):
            raise ProtocolError(401, "missing or wrong API key (send 'Authorization: Bearer KEY')")

    def authorize_inference(self, authorization: str | None) -> None:
        """Check the key for inference and metadata calls (only with ``--auth-inference``)."""
        self.authorize(authorization, required=self.settings.auth_inference)

    def authorize_repository(self, authorization: str | None) -> None:
        """Check that the repository API is on and the key is right (always required when set).

        Raises:
            ProtocolError: 403 when the API is off, 401 for a wrong key.
        """
        if not self.settings.repository_api:
            raise ProtocolError(403, "the repository API is turned off on this server (--no-repository-api)")
        self.authorize(authorization, required=True)

    # -- metadata ------------------------------------------------------------------------------
    def server_metadata(self) -> dict[str, Any]:
        """Return the server's name, version and extensions."""
        return {"name": "modelps", "version": __version__, "extensions": EXTENSIONS}

    def model_metadata(self, name: str, version: str | None) -> dict[str, Any]:
        """Return a model's metadata; with a version, only that version is listed."""
        model, number, _ = self.manager.get(name, version)
        data = model.metadata()
        if version:
            data["versions"] = [str(number)]
        return data

    def model_config(self, name: str, version: str | None) -> dict[str, Any]:
        """Return a model's config in Triton's JSON form."""
        model, _, _ = self.manager.get(name, version)
        return model.config.to_json()

    # -- inference -----------------------------------------------------------------------------
    async def infer(
        self, name: str, version: str | None, decode: Callable[[ModelConfig], Awaitable[InferRequest]]
    ) -> Outcome:
        """Decode a request for a model, run it through the model's queue and return the outputs.

        Raises:
            ProtocolError: 404 unknown model/version, 400 bad request, 503 full queue, 500 backend failure.
        """
        model, number, worker = self.manager.get(name, version)
        started = time.perf_counter()
        self.metrics.requests.labels(name).inc()
        try:
            request = await decode(model.config)
            results = await worker.submit(request)
        except ProtocolError as exc:
            self.metrics.failures.labels(name, str(exc.status)).inc()
            worker.stats.record_request(False, int((time.perf_counter() - started) * 1e9))
            raise
        elapsed = time.perf_counter() - started
        worker.stats.record_request(True, int(elapsed * 1e9))
        self.metrics.latency.labels(name).observe(elapsed)
        if access.isEnabledFor(logging.DEBUG):
            access.debug("infer", extra={"model": name, "version": number, "ms": round(elapsed * 1e3, 3)})
        return model, number, request, results

    def statistics(self, name: str | None, version: str | None) -> dict[str, Any]:
        """Return Triton's ``{"model_stats": [...]}`` for one model (version) or, without a name, all."""
        if name:
            model, number, _ = self.manager.get(name, version)
            numbers = [number] if version else sorted(model.workers)
            entries = [model.workers[n].stats.to_json(name, n) for n in numbers]
        else:
            entries = [
                model.workers[n].stats.to_json(model_name, n)
                for model_name, model in sorted(self.manager.loaded().items())
                for n in sorted(model.workers)
            ]
        return {"model_stats": entries}

    # -- repository ----------------------------------------------------------------------------
    def index(self, ready_only: bool) -> list[dict[str, Any]]:
        """Every model in the repository or loaded, with its state."""
        entries = self.manager.index()
        return [e for e in entries if e["state"] == "READY"] if ready_only else entries

    async def load(self, name: str, parameters: dict[str, Any]) -> None:
        """(Re)load a model from the repository on a worker thread.

        Raises:
            ProtocolError: 400 when parameters are given or the model fails to load.
        """
        if parameters:
            raise ProtocolError(400, f"load parameters {sorted(parameters)} are not supported; publish a new version")
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.manager.load, name)
        except ModelPSError as exc:
            raise ProtocolError(400, f"failed to load {name!r}: {exc}") from None

    async def unload(self, name: str) -> None:
        """Stop serving a model (queued requests finish first).

        Raises:
            ProtocolError: 404 when the model is not loaded.
        """
        await asyncio.get_running_loop().run_in_executor(None, self.manager.unload, name)

    # -- settings the server answers but does not implement --------------------------------------
    def trace_settings(self, model: str | None, update: dict[str, Any]) -> dict[str, Any]:
        """Return the trace settings (tracing is off); refuse to turn tracing on.

        Raises:
            ProtocolError: 404 for an unknown model, 501 for an update that turns tracing on.
        """
        if model:
            self.manager.get(model, None)
        for key, value in update.items():
            if key not in _TRACE:
                raise ProtocolError(400, f"unknown trace setting {key!r}; settings are {sorted(_TRACE)}")
            current = _TRACE[key] if isinstance(_TRACE[key], list) else [_TRACE[key]]
            if value is not None and (value if isinstance(value, list) else [value]) != current:
                raise ProtocolError(501, "tracing is not supported by modelps serve (trace_level stays OFF)")
        return dict(_TRACE)

    def log_settings(self, update: dict[str, Any]) -> dict[str, Any]:
        """Return (and with ``update``, change) the log settings; ``log_verbose_level > 0`` logs each request.

        Raises:
            ProtocolError: 400 for an unknown setting or a value of the wrong type.
        """
        for key, value in update.items():
            if key == "log_verbose_level":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ProtocolError(400, f"log_verbose_level must be a non-negative integer, not {value!r}")
                self._log["log_verbose_level"] = value
                access.setLevel(logging.DEBUG if value > 0 else logging.NOTSET)
            elif key in ("log_info", "log_warning", "log_error", "log_file", "log_format"):
                current = self.log_state()[key]
                if value != current:
                    raise ProtocolError(501, f"{key} cannot be changed on modelps serve (it is {current!r})")
            else:
                raise ProtocolError(400, f"unknown log setting {key!r}; settings are {sorted(self.log_state())}")
        return self.log_state()

    def log_state(self) -> dict[str, Any]:
        """Return the log settings as Triton names them."""
        return {
            "log_file": "",
            "log_info": True,
            "log_warning": True,
            "log_error": True,
            "log_verbose_level": self._log["log_verbose_level"],
            "log_format": "default",
        }

    def shared_memory_status(self, kind: str, region: str | None) -> list[dict[str, Any]]:
        """Return the registered shared-memory regions: none (shared memory is not supported).

        Raises:
            ProtocolError: 404 when a region is named.
        """
        if region:
            raise ProtocolError(404, f"no {kind} shared memory region {region!r} is registered (not supported)")
        return []

    def shared_memory_register(self, kind: str) -> None:
        """Refuse to register a shared-memory region.

        Raises:
            ProtocolError: 501 always.
        """
        raise ProtocolError(501, f"{kind} shared memory is not supported by modelps serve; send tensors in the request")
