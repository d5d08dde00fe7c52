"""Prometheus metrics of one server (its own registry, so several servers can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """Request, failure, latency, queue-time and batch-size metrics, labelled by model."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelps_inference_requests", "Inference requests received", ["model"], registry=self.registry
        )
        self.failures = Counter(
            "modelps_inference_failures", "Inference requests answered with an error", ["model", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "modelps_request_duration_seconds", "Inference request time from body read to response",
            ["model"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.queue = Histogram(
            "modelps_queue_duration_seconds", "Time a request waited in the model's queue",
            ["model"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.compute = Histogram(
            "modelps_compute_duration_seconds", "Model execution time per (merged) batch",
            ["model"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            "modelps_batch_size", "Samples per model execution (after dynamic batching)",
            ["model"], buckets=_BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.http = Counter(
            "modelps_http_responses", "HTTP responses by route and status", ["route", "status"], registry=self.registry
        )
        self.disconnects = Counter(
            "modelps_client_disconnects", "HTTP requests whose client went away before the answer", ["route"],
            registry=self.registry,
        )  # fmt: skip
        self.grpc = Counter(
            "modelps_grpc_responses", "gRPC responses by method and status code", ["method", "code"],
            registry=self.registry,
        )  # fmt: skip
        self.loaded = Gauge(
            "modelps_model_loaded", "1 when the model is loaded and ready", ["model"], registry=self.registry
        )

    def observer(self, model: str):  # noqa: ANN201 - returns a BatchObserver
        """Return a :data:`serving.scheduler.BatchObserver` recording into this registry for ``model``."""
        queue = self.queue.labels(model)
        compute = self.compute.labels(model)
        batch = self.batch_size.labels(model)

        def observe(size: int, seconds: float, waits: list[float]) -> None:
            batch.observe(size)
            compute.observe(seconds)
            for wait in waits:
                queue.observe(wait)

        return observe

    def render(self) -> bytes:
        """Render the Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
