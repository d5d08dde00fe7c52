"""The one settings object of a server."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

from serving.errors import ServingError
from serving.runners.onnxruntime import OrtSettings

__all__ = ["ServerSettings", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine.

    Example::

        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """Everything ``modelps serve`` can be told.

    Attributes:
        repo: The model repository folder.
        host: Address to listen on (loopback by default).
        port: TCP port of the HTTP API (0 picks a free one).
        grpc_port: TCP port of the gRPC API (0 picks a free one; ``None``: no gRPC).
        api_key: Bearer token; required for load/unload, and for everything else when ``auth_inference``.
        auth_inference: Also require the key for inference and metadata.
        repository_api: Offer the load/unload endpoints at all.
        max_body_bytes: Larger request bodies are refused with 413.
        max_queue_size: Default bound of each model's queue (a config's ``max_queue_size`` overrides it).
        models: Models to load at start (``None``: every model in the repository).
        ort: ONNX Runtime session options (threads, spin-waiting, optimisation level).
    """

    repo: Path
    host: str = "127.0.0.1"
    port: int = 8000
    grpc_port: int | None = 8001
    api_key: str | None = None
    auth_inference: bool = False
    repository_api: bool = True
    max_body_bytes: int = 64 << 20
    max_queue_size: int = 256
    models: tuple[str, ...] | None = None
    ort: OrtSettings = dataclasses.field(default_factory=OrtSettings)

    def check(self) -> None:
        """Refuse unsafe or impossible settings.

        Raises:
            ServingError: The repository API would be open to the network without a key, or a limit is invalid.
        """
        if self.repository_api and not self.api_key and not is_loopback(self.host):
            raise ServingError(
                f"refusing to listen on {self.host} without --api-key: the repository load/unload endpoints "
                "would let anyone on the network load models; pass --api-key KEY (or --no-repository-api)"
            )
        if self.auth_inference and not self.api_key:
            raise ServingError("--auth-inference needs --api-key KEY")
        if self.max_body_bytes <= 0:
            raise ServingError(f"the body size limit must be positive, not {self.max_body_bytes} bytes")
        if self.max_queue_size < 1:
            raise ServingError(f"--max-queue-size must be at least 1, not {self.max_queue_size}")
        if not 0 <= self.port <= 65535:
            raise ServingError(f"--port {self.port} is not a TCP port")
        if self.grpc_port is not None and not 0 <= self.grpc_port <= 65535:
            raise ServingError(f"--grpc-port {self.grpc_port} is not a TCP port")
        if self.grpc_port is not None and self.grpc_port == self.port != 0:
            raise ServingError(f"--port and --grpc-port are both {self.port}; give gRPC its own port")
