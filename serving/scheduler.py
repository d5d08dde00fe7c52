"""Per-model request queues executed on dedicated threads, with dynamic batching.

The event loop only enqueues a request and awaits a future; model execution happens on the
worker's own threads (one per model instance), so it never blocks the loop. With dynamic batching,
a worker that picks up a request also takes compatible requests already queued (same input shapes
apart from the batch dimension, same requested outputs) up to ``max_batch_size``, waiting up to
``max_queue_delay_us`` for more. With no delay (the CPU default) the batch adapts to the load: a
worker takes its fair share of the backlog (the queue divided among the idle instances), so a
burst is spread over every instance instead of running as one batch on one of them, and an idle
server runs each request at once. A request that runs alone (no other in flight or queued) goes to
the *solo* runner when there is one: a session using every core, where each instance uses fewer.
The queue is bounded: a request beyond ``max_queue_size`` is refused (HTTP 503) instead of growing.

One exception to "never on the loop": a model whose lone requests take under ``INLINE_SECONDS``
(measured, a moving average) runs a request that arrives at an idle worker on the event loop thread
itself. Handing such a request to a thread and back costs more than running it (two thread wake-ups,
each a scheduler round trip on a busy machine), and it blocks the loop for less than that.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from serving.config import DynamicBatching
from serving.protocol import InferRequest, ProtocolError
from serving.runners.base import InvalidInputError, Runner
from serving.stats import ModelStats

__all__ = ["BatchObserver", "ModelWorker"]

logger = logging.getLogger(__name__)

INLINE_SECONDS = 0.001
"""Lone requests of a model faster than this (moving average) run on the event loop when the worker is idle."""

BatchObserver = Callable[[int, float, list[float]], None]
"""Called after each execution with (batch size, compute seconds, queue seconds of each request)."""


@dataclasses.dataclass
class _Job:
    request: InferRequest
    future: asyncio.Future[dict[str, np.ndarray]]
    loop: asyncio.AbstractEventLoop
    enqueued: float


_Outcome = tuple[_Job, dict[str, np.ndarray], BaseException | None]


def _resolve(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # the client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _deliver(job: _Job, value: Any, error: BaseException | None) -> None:
    try:
        job.loop.call_soon_threadsafe(_resolve, job.future, value, error)
    except RuntimeError:  # the event loop is closed: the server has stopped, nobody is waiting
        pass


class ModelWorker:
    """Executes one model version's requests on one thread per runner.

    Args:
        label: ``name:version`` for logs and thread names.
        runners: Active runners, one per model instance.
        max_batch_size: Largest merged batch (0: the model does not batch).
        batching: Dynamic batching settings, or ``None`` to run requests one by one.
        max_queue_size: Requests that may wait; more are refused with 503.
        observer: Receives batch statistics (for metrics).
        solo: An active runner for requests that run alone (see the module docstring), or ``None``.
    """

    def __init__(
        self,
        label: str,
        runners: list[Runner],
        *,
        max_batch_size: int,
        batching: DynamicBatching | None,
        max_queue_size: int,
        observer: BatchObserver | None = None,
        solo: Runner | None = None,
    ) -> None:
        self.label = label
        self.runners = runners
        self.max_batch_size = max_batch_size if batching is not None else 0
        self.delay = (batching.max_queue_delay_us / 1e6) if batching is not None else 0.0
        self.max_queue_size = max_queue_size
        self.observer = observer
        self.stats = ModelStats()
        self.solo = solo
        self._busy = 0
        self._lone_seconds = float("inf")  # moving average of a lone request's execution time
        self._queue: collections.deque[_Job] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._serve, args=(runner,), name=f"modelps-{label}-{i}", daemon=True)
            for i, runner in enumerate(runners)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, request: InferRequest) -> asyncio.Future[dict[str, np.ndarray]]:
        """Queue a request (call on the event loop); await the returned future for its outputs.

        Raises:
            ProtocolError: 503 when the queue is full or the model is being unloaded.
        """
        loop = asyncio.get_running_loop()
        job = _Job(request, loop.create_future(), loop, time.perf_counter())
        with self._cond:
            if self._stopping:
                raise ProtocolError(503, f"model {self.label} is being unloaded")
            if len(self._queue) >= self.max_queue_size:
                raise ProtocolError(
                    503, f"model {self.label}: the request queue is full ({self.max_queue_size} waiting); retry later"
                )
            inline = not self._queue and self._busy == 0 and self._lone_seconds < INLINE_SECONDS
            if inline:
                self._busy += 1
            else:
                self._queue.append(job)
                self._cond.notify()
        if inline:
            try:
                outcomes = self._execute(self.solo or self.runners[0], [job])
            finally:
                with self._cond:
                    self._busy -= 1
            for done, result, error in outcomes:
                _resolve(done.future, result, error)
        return job.future

    def queued(self) -> int:
        """Count the requests waiting now."""
        return len(self._queue)

    def stop(self) -> None:
        """Finish what is queued, stop the threads and deactivate the runners."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        for runner in [*self.runners, *([self.solo] if self.solo is not None else [])]:
            runner.deactivate()

    def _serve(self, runner: Runner) -> None:
        while True:
            taken = self._next_batch()
            if taken is None:
                return
            batch, alone = taken
            try:
                outcomes = self._execute(self.solo if alone and self.solo is not None else runner, batch, alone)
            except Exception as exc:  # keep the thread alive whatever happens
                logger.exception("worker %s failed a batch", self.label)
                error = ProtocolError(500, f"inference on model {self.label} failed: {type(exc).__name__}: {exc}")
                outcomes = [(job, {}, error) for job in batch]
            with self._cond:  # idle again before the client hears back, so its next request sees an idle worker
                self._busy -= 1
            for job, result, error in outcomes:
                _deliver(job, result, error)

    def _next_batch(self) -> tuple[list[_Job], bool] | None:
        """Wait for work; return the batch to run and whether it runs alone (nothing else in flight)."""
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                self._cond.wait()
            first = self._queue.popleft()
            self._busy += 1
            batch = [first]
            if self.max_batch_size > first.request.batch:
                self._gather(batch)
            return batch, self._busy == 1 and not self._queue

    def _gather(self, batch: list[_Job]) -> None:
        first = batch[0]
        key = first.request.batch_key()
        total = first.request.batch
        if self.delay <= 0:  # no waiting: this worker's fair share of the backlog
            idle = len(self._threads) - self._busy + 1
            self._take_compatible(batch, key, total, math.ceil((len(self._queue) + 1) / idle))
            return
        deadline = first.enqueued + self.delay
        while True:
            total = self._take_compatible(batch, key, total, len(self._queue) + len(batch))
            remaining = deadline - time.perf_counter()
            if total >= self.max_batch_size or remaining <= 0 or self._stopping:
                return
            self._cond.wait(remaining)

    def _take_compatible(self, batch: list[_Job], key: tuple[Any, ...], total: int, requests: int) -> int:
        """Move queued jobs that fit the batch into it, up to ``requests`` jobs in the batch; return its samples."""
        kept: collections.deque[_Job] = collections.deque()
        while self._queue and len(batch) < requests:
            job = self._queue.popleft()
            size = job.request.batch
            if total + size <= self.max_batch_size and job.request.batch_key() == key:
                batch.append(job)
                total += size
            else:
                kept.append(job)
        self._queue.extendleft(reversed(kept))
        return total

    def _execute(self, runner: Runner, batch: list[_Job], alone: bool = True) -> list[_Outcome]:
        """Run a batch; return each job with its outputs or error (delivered by the caller)."""
        started = time.perf_counter()
        waits = [started - job.enqueued for job in batch]
        names = [name for name, _ in batch[0].request.outputs]
        try:
            results, phases = self._run_merged(runner, batch, names)
            errors: list[BaseException | None] = [None] * len(batch)
        except Exception as exc:  # isolate the failure: run each request alone
            if len(batch) > 1:
                results, errors = self._run_each(runner, batch, names)
            else:
                results, errors = [{}], [_as_protocol_error(exc, self.label)]
            phases = (0.0, time.perf_counter() - started, 0.0)
        elapsed = time.perf_counter() - started
        samples = sum(job.request.batch for job in batch)
        if alone and len(batch) == 1:
            previous = self._lone_seconds
            self._lone_seconds = elapsed if previous == float("inf") else 0.8 * previous + 0.2 * elapsed
        if self.observer is not None:
            self.observer(samples, elapsed, waits)
        if any(error is None for error in errors):
            self.stats.record_execution(samples, [int(w * 1e9) for w in waits], tuple(int(p * 1e9) for p in phases))
        return list(zip(batch, results, errors, strict=True))

    def _run_merged(
        self, runner: Runner, batch: list[_Job], names: list[str]
    ) -> tuple[list[dict[str, np.ndarray]], tuple[float, float, float]]:
        """Run the batch as one execution; return the results and the input/infer/output seconds."""
        t0 = time.perf_counter()
        if len(batch) == 1:
            outputs = runner.infer(batch[0].request.inputs, names)
            return [outputs], (0.0, time.perf_counter() - t0, 0.0)
        first = batch[0].request.inputs
        feeds = {name: np.concatenate([job.request.inputs[name] for job in batch]) for name in first}
        t1 = time.perf_counter()
        outputs = runner.infer(feeds, names)
        t2 = time.perf_counter()
        total = sum(job.request.batch for job in batch)
        if any(out.ndim == 0 or out.shape[0] != total for out in outputs.values()):
            raise RuntimeError(f"model {self.label}: an output's first dimension is not the batch; cannot split")
        results, start = [], 0
        for job in batch:
            end = start + job.request.batch
            results.append({name: out[start:end] for name, out in outputs.items()})
            start = end
        return results, (t1 - t0, t2 - t1, time.perf_counter() - t2)

    def _run_each(
        self, runner: Runner, batch: list[_Job], names: list[str]
    ) -> tuple[list[dict[str, np.ndarray]], list[BaseException | None]]:
        results: list[dict[str, np.ndarray]] = []
        errors: list[BaseException | None] = []
        for job in batch:
            try:
                results.append(runner.infer(job.request.inputs, names))
                errors.append(None)
            except Exception as exc:
                results.append({})
                errors.append(_as_protocol_error(exc, self.label))
        return results, errors


def _as_protocol_error(exc: Exception, label: str) -> ProtocolError:
    if isinstance(exc, InvalidInputError):
        return ProtocolError(400, f"model {label} rejected the inputs: {exc}")
    logger.error("inference on %s failed", label, exc_info=exc)
    return ProtocolError(500, f"inference on model {label} failed: {type(exc).__name__}: {exc}")
