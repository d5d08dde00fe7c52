"""Per-model-version inference statistics in Triton's format (``/v2/models/{name}/stats``, ``ModelStatistics``)."""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["ModelStats"]

_KINDS = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output", "cache_hit", "cache_miss")
_COMPUTE = ("compute_input", "compute_infer", "compute_output")


class ModelStats:
    """Cumulative counters of one served model version; thread-safe.

    Durations are ``[count, nanoseconds]`` pairs as Triton reports them: ``success``/``fail`` per
    request (end to end, from the body read to the response), ``queue`` per request, and the three
    ``compute_*`` phases per request of each execution (a merged batch counts its time for each of its
    requests); ``batch_stats`` count executions by batch size (samples).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._durations = {kind: [0, 0] for kind in _KINDS}
        self._batches: dict[int, dict[str, list[int]]] = {}
        self.inference_count = 0
        self.execution_count = 0
        self.last_inference_ms = 0

    def record_execution(self, samples: int, queue_ns: list[int], phases_ns: tuple[int, int, int]) -> None:
        """Count one model execution of ``samples`` samples merged from ``len(queue_ns)`` requests."""
        requests = len(queue_ns)
        with self._lock:
            self.inference_count += samples
            self.execution_count += 1
            self._add("queue", requests, sum(queue_ns))
            batch = self._batches.setdefault(samples, {kind: [0, 0] for kind in _COMPUTE})
            for kind, ns in zip(_COMPUTE, phases_ns, strict=True):
                self._add(kind, requests, ns * requests)
                batch[kind][0] += 1
                batch[kind][1] += ns

    def record_request(self, ok: bool, ns: int) -> None:
        """Count one finished request (``ok``: answered with outputs) that took ``ns`` nanoseconds."""
        with self._lock:
            self._add("success" if ok else "fail", 1, ns)
            if ok:
                self.last_inference_ms = time.time_ns() // 1_000_000

    def to_json(self, name: str, version: int) -> dict[str, Any]:
        """Return Triton's JSON form of these statistics (``model_stats`` entry)."""
        with self._lock:
            return {
                "name": name,
                "version": str(version),
                "last_inference": self.last_inference_ms,
                "inference_count": self.inference_count,
                "execution_count": self.execution_count,
                "inference_stats": {kind: _pair(value) for kind, value in self._durations.items()},
                "batch_stats": [
                    {"batch_size": size} | {kind: _pair(value) for kind, value in phases.items()}
                    for size, phases in sorted(self._batches.items())
                ],
                "memory_usage": [],
            }

    def _add(self, kind: str, count: int, ns: int) -> None:
        pair = self._durations[kind]
        pair[0] += count
        pair[1] += ns


def _pair(value: list[int]) -> dict[str, int]:
    return {"count": value[0], "ns": value[1]}
