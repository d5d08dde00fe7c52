from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

import serving
from serving import scheduler
from serving.config import DynamicBatching, TensorSpec
from serving.protocol import InferRequest, ProtocolError
from serving.scheduler import ModelWorker
from tests.serving._serving_models import convnet, mlp


def _worker(path: Path, delay_us: int, max_batch: int, sizes: list, queue: int = 64) -> ModelWorker:
    runner = serving.OrtRunner(serving.OrtSessionLoader(path))
    runner.activate()

    def observe(size: int, seconds: float, waits: list[float]) -> None:
        sizes.append(size)

    return ModelWorker(
        "m:1",
        [runner],
        max_batch_size=max_batch,
        batching=DynamicBatching(delay_us, 0),
        max_queue_size=queue,
        observer=observe,
    )


def _request(x: np.ndarray, outputs: list[str]) -> InferRequest:
    return InferRequest({"x": x}, [(n, True) for n in outputs], x.shape[0])


def test_queue_delay_gathers_a_full_batch(models_dir: Path) -> None:
    sizes: list[int] = []
    worker = _worker(mlp(models_dir / "m.onnx"), delay_us=30_000_000, max_batch=4, sizes=sizes)
    xs = [np.full((1, 4), i, np.float32) for i in range(4)]

    async def go() -> list[dict[str, np.ndarray]]:
        futures = [worker.submit(_request(x, ["z"])) for x in xs]  # a full batch runs without waiting 30 s
        return list(await asyncio.gather(*futures))

    try:
        results = asyncio.run(go())
    finally:
        worker.stop()
    assert sizes == [4]
    assert [r["z"].tolist() for r in results] == [[[2 * i] * 4] for i in range(4)]


def test_incompatible_requests_are_not_merged(models_dir: Path) -> None:
    sizes: list[int] = []
    worker = _worker(convnet(models_dir / "c.onnx"), delay_us=0, max_batch=8, sizes=sizes)
    xs = [np.ones((1, 3, 8, 8), np.float32), np.ones((2, 3, 5, 6), np.float32), np.ones((1, 3, 8, 8), np.float32)]

    async def go() -> list[dict[str, np.ndarray]]:
        return list(await asyncio.gather(*[worker.submit(_request(x, ["feat"])) for x in xs]))

    try:
        results = asyncio.run(go())
    finally:
        worker.stop()
    assert [r["feat"].shape for r in results] == [(1, 8, 8, 8), (2, 8, 5, 6), (1, 8, 8, 8)]
    assert sum(sizes) == 4 and all(s in (1, 2) for s in sizes)  # 8x8 requests may merge (2), never with 5x6


def test_bounded_queue_and_stop(models_dir: Path) -> None:
    sizes: list[int] = []
    worker = _worker(mlp(models_dir / "m.onnx"), delay_us=0, max_batch=1, sizes=sizes, queue=2)

    async def go() -> None:
        worker._cond.acquire()  # hold the worker so the queue fills deterministically
        try:
            futures = [worker.submit(_request(np.ones((1, 4), np.float32), ["y"])) for _ in range(2)]
            with pytest.raises(ProtocolError, match="the request queue is full") as exc:
                worker.submit(_request(np.ones((1, 4), np.float32), ["y"]))
            assert exc.value.status == 503
        finally:
            worker._cond.release()
        await asyncio.gather(*futures)

    try:
        asyncio.run(go())
    finally:
        worker.stop()
    assert sizes == [1, 1]
    with pytest.raises(ProtocolError, match="being unloaded"):
        asyncio.run(_submit_after_stop(worker))


async def _submit_after_stop(worker: ModelWorker) -> None:
    worker.submit(_request(np.ones((1, 4), np.float32), ["y"]))


def test_ort_instances_share_one_session(models_dir: Path, tmp_path: Path) -> None:
    from serving.runners import runners_for

    config = serving.publish(mlp(models_dir / "m.onnx"), tmp_path, "m", instances=3).config
    runners = runners_for(config, tmp_path / "m" / "1" / "model.onnx")
    for runner in runners:
        runner.activate()
    try:
        assert len(runners) == 3 and len({id(r.session) for r in runners}) == 1
        sizes: list[int] = []
        worker = ModelWorker("m:1", runners, max_batch_size=0, batching=None, max_queue_size=16,
                             observer=lambda size, seconds, waits: sizes.append(size))  # fmt: skip

        async def go() -> list[dict[str, np.ndarray]]:
            xs = [np.full((1, 4), i, np.float32) for i in range(6)]
            return list(await asyncio.gather(*[worker.submit(_request(x, ["z"])) for x in xs]))

        results = asyncio.run(go())
        assert [r["z"][0, 0] for r in results] == [0, 2, 4, 6, 8, 10] and sizes == [1] * 6
    finally:
        worker.stop()
    assert not any(r.is_active for r in runners)


class _Gated(serving.Runner):
    """A runner that doubles its input once ``gate`` opens, recording which runner ran each batch."""

    def __init__(self, tag: str, gate: threading.Event, log: list[tuple[str, int]]) -> None:
        super().__init__()
        self.tag, self.gate, self.log = tag, gate, log
        self.threads: list[str] = []

    def _activate(self) -> None:
        pass

    def _deactivate(self) -> None:
        pass

    @property
    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec("x", "FP32", (-1, 4))]

    @property
    def outputs(self) -> list[TensorSpec]:
        return [TensorSpec("y", "FP32", (-1, 4))]

    def infer(self, feeds: Mapping[str, np.ndarray], output_names: Sequence[str]) -> dict[str, np.ndarray]:
        self.log.append((self.tag, feeds["x"].shape[0]))
        self.threads.append(threading.current_thread().name)
        assert self.gate.wait(30)
        return {"y": feeds["x"] * 2}


def _gated_worker(instances: int, solo: bool) -> tuple[ModelWorker, threading.Event, list[tuple[str, int]]]:
    gate, log = threading.Event(), []
    runners = [_Gated(f"instance{i}", gate, log) for i in range(instances)]
    return (
        ModelWorker("m:1", runners, max_batch_size=8, batching=DynamicBatching(0, 0), max_queue_size=64,
                    solo=_Gated("solo", gate, log) if solo else None),
        gate,
        log,
    )  # fmt: skip


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_lone_request_runs_on_the_solo_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "INLINE_SECONDS", 0.0)  # never on the event loop: the gate would block it
    worker, gate, log = _gated_worker(2, solo=True)
    xs = [np.full((1, 4), i, np.float32) for i in range(3)]

    async def go() -> list[dict[str, np.ndarray]]:
        gate.set()
        first = await worker.submit(_request(xs[0], ["y"]))  # idle server: alone
        gate.clear()
        held = worker.submit(_request(xs[1], ["y"]))  # alone again, held at the gate
        await asyncio.to_thread(_wait_until, lambda: len(log) == 2)
        second = worker.submit(_request(xs[2], ["y"]))  # one in flight: runs on an instance
        await asyncio.to_thread(_wait_until, lambda: len(log) == 3)
        gate.set()
        return [first, *await asyncio.gather(held, second)]

    try:
        results = asyncio.run(go())
    finally:
        gate.set()
        worker.stop()
    assert [tag for tag, _ in log] == ["solo", "solo", log[2][0]] and log[2][0].startswith("instance")
    assert [r["y"][0, 0] for r in results] == [0, 2, 4]


def test_a_burst_is_shared_among_idle_instances(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "INLINE_SECONDS", 0.0)
    worker, gate, log = _gated_worker(3, solo=False)

    async def go() -> list[dict[str, np.ndarray]]:
        futures = [worker.submit(_request(np.zeros((1, 4), np.float32), ["y"]))]  # occupies one instance
        await asyncio.to_thread(_wait_until, lambda: len(log) == 1)
        with worker._cond:  # five requests arrive at once; the two idle instances split them
            futures += [worker.submit(_request(np.full((1, 4), i, np.float32), ["y"])) for i in range(1, 6)]
        await asyncio.to_thread(_wait_until, lambda: len(log) == 3)
        gate.set()
        return list(await asyncio.gather(*futures))

    try:
        results = asyncio.run(go())
    finally:
        gate.set()
        worker.stop()
    assert sorted(size for _, size in log) == [1, 2, 3]
    assert [r["y"][0, 0] for r in results] == [0, 2, 4, 6, 8, 10]


def test_cpu_instances_default_to_one_per_core(models_dir: Path, tmp_path: Path) -> None:
    from serving.runners import available_cores, runners_for, solo_runner_for

    config = serving.publish(mlp(models_dir / "m.onnx"), tmp_path, "m").config
    assert config.instance_count == 0
    assert "count" not in (tmp_path / "m" / "config.pbtxt").read_text()
    path = tmp_path / "m" / "1" / "model.onnx"
    runners = runners_for(config, path)
    cores = available_cores()
    assert len(runners) == cores
    assert runners[0].loader.settings.intra_op_threads == 1  # type: ignore[attr-defined]
    solo = solo_runner_for(config, path)
    if cores > 1:
        assert solo is not None and solo.loader.settings.intra_op_threads == cores  # type: ignore[attr-defined]
    else:
        assert solo is None
    assert solo_runner_for(config, path, serving.OrtSettings(intra_op_threads=2)) is None  # explicit threads: as told
    two = serving.publish(mlp(models_dir / "m.onnx"), tmp_path, "two", instances=2).config
    assert len(runners_for(two, path)) == 2


def test_fast_lone_requests_run_on_the_event_loop() -> None:
    worker, gate, log = _gated_worker(2, solo=True)
    gate.set()
    solo = worker.solo
    assert isinstance(solo, _Gated)

    async def go() -> list[str]:
        loop_thread = threading.current_thread().name
        await worker.submit(_request(np.ones((1, 4), np.float32), ["y"]))  # measured on a worker thread first
        for _ in range(3):
            result = await worker.submit(_request(np.ones((1, 4), np.float32), ["y"]))
            assert result["y"].tolist() == [[2, 2, 2, 2]]
        both = await asyncio.gather(*[worker.submit(_request(np.ones((1, 4), np.float32), ["y"])) for _ in range(2)])
        assert len(both) == 2
        return [loop_thread]

    try:
        (loop_thread,) = asyncio.run(go())
    finally:
        worker.stop()
    assert solo.threads[0] != loop_thread and solo.threads[1:4] == [loop_thread] * 3
    assert worker.stats.to_json("m", 1)["inference_stats"]["success"]["count"] == 0  # counted by the API layer
