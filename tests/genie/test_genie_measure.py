"""Latency measurement on ORT CPU and the per-layer latency table."""

from __future__ import annotations

import numpy as np
import pytest

from genie.measure import MAX_ITERS, MAX_ROUNDS, BackendUnavailable, make_runner, measure
from genie.predictor import FractionModel, fractions_for, profile_table
from modelps import runtime
from modelps.compress import analyze, keep_count
from modelps.errors import ModelPSError
from modelps.io import model_bytes
from tests.modelps.compress import nets


def test_measure_interleaved_real_models() -> None:
    small = nets.resnet18(width=4, shape=(1, 3, 32, 32))
    big = nets.resnet18(width=16, shape=(1, 3, 32, 32))
    feeds = runtime.make_inputs(small)
    timings = measure(
        {"base": model_bytes(big), "small": model_bytes(small)},
        feeds,
        baseline="base",
        threads=1,
        rounds=3,
        iters=3,
        warmup=1,
    )
    assert set(timings) == {"base", "small"}
    assert timings["base"].speedup == pytest.approx(1.0)
    for t in timings.values():
        assert t.runs == 9 and 0 < t.p10_ms <= t.median_ms <= t.p90_ms
    with pytest.raises(ModelPSError, match="baseline 'nope' is not among"):
        measure({"a": model_bytes(small)}, feeds, baseline="nope")


def test_a_fast_model_is_timed_in_longer_blocks() -> None:
    small = nets.resnet18(width=4, shape=(1, 3, 32, 32))
    feeds = runtime.make_inputs(small)
    models = {"base": model_bytes(small), "same": model_bytes(small)}
    timings = measure(models, feeds, baseline="base", threads=1, rounds=2, iters=3, warmup=1, min_block_ms=30.0)
    runs = {t.runs for t in timings.values()}
    assert len(runs) == 1 and runs.pop() > 2 * 3  # every model the same count, more than 3 per block
    per_block = timings["base"].runs // 2
    # blocks of about 30 ms, unless the count is capped (a very fast machine runs this net in 0.06 ms)
    assert per_block == MAX_ITERS or timings["base"].median_ms * per_block >= 30.0 * 0.5


def test_a_fast_model_is_timed_in_more_rounds() -> None:
    small = nets.resnet18(width=4, shape=(1, 3, 32, 32))
    feeds = runtime.make_inputs(small)
    models = {"base": model_bytes(small), "same": model_bytes(small)}
    seen: list[tuple[int, int]] = []
    timings = measure(models, feeds, baseline="base", threads=1, rounds=2, iters=3, warmup=1, min_total_ms=200.0,
                      spin=False, progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    rounds = timings["base"].runs // 3
    assert timings["same"].runs == timings["base"].runs and rounds > 2  # more rounds, same count for both
    assert rounds == MAX_ROUNDS or timings["base"].median_ms * timings["base"].runs >= 200.0 * 0.5
    assert seen[-1] == (rounds, rounds)  # progress counts the rounds actually run


def test_unavailable_backends_are_reported() -> None:
    import onnxruntime as ort

    model = model_bytes(nets.resnet18(width=4))
    feeds = runtime.make_inputs(nets.resnet18(width=4))
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(BackendUnavailable, match="no CUDAExecutionProvider"):
            make_runner("ort-cuda", model, feeds)
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailable, match="needs the tensorrt"):
            make_runner("tensorrt", model, feeds)
    with pytest.raises(ModelPSError, match="unknown backend 'tpu'"):
        make_runner("tpu", model, feeds)


def test_profile_table_attributes_time_to_layers_and_scales_with_pruning() -> None:
    model = nets.resnet18(width=16, shape=(1, 3, 32, 32))
    table = profile_table(model, runtime.make_inputs(model), threads=1, runs=3)
    convs = {n.name for n in model.graph if n.op_type in ("Conv", "Gemm")}
    assert len(set(table.node_ms) & convs) >= 15  # fused Conv+BN+ReLU kernels charged to their Conv
    assert all(ms >= 0 for ms in table.node_ms.values())
    table.calibrate(10.0)
    assert table.predict({}) == pytest.approx(10.0)
    analysis = analyze(model)
    plan = {g.id: np.arange(keep_count(g.size, 0.5)) for g in analysis.prunable if not g.residual}
    exact = fractions_for(model, analysis, plan)
    fast = FractionModel(model, analysis).fractions(
        {gid: len(k) / analysis.groups[gid].size for gid, k in plan.items()}
    )
    assert exact.keys() == fast.keys()
    assert all(exact[n] == pytest.approx(fast[n]) for n in exact)
    conv_after_pruned = analysis.group("conv5").consumers[0]
    assert exact[conv_after_pruned] == pytest.approx(0.5)  # input halved, output (stream) kept
    assert table.predict(exact) < 10.0


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["ort-cuda", "ort-trt", "tensorrt"])
def test_gpu_backends_measure(backend: str) -> None:
    import onnxruntime as ort

    wanted = {"ort-cuda": "CUDAExecutionProvider", "ort-trt": "TensorrtExecutionProvider"}.get(backend)
    if wanted is not None and wanted not in ort.get_available_providers():
        pytest.skip(f"{wanted} is not available in this onnxruntime build")
    if backend == "tensorrt":
        pytest.importorskip("tensorrt", reason="TensorRT's Python package is not installed")
    model = nets.resnet18(width=8)
    try:
        feeds = runtime.make_inputs(model)
        timings = measure({"base": model_bytes(model)}, feeds, baseline="base", backend=backend, rounds=2, iters=2)
    except BackendUnavailable as exc:  # listed but cannot start (TensorRT's libraries missing, say)
        if backend == "ort-cuda":
            raise
        pytest.skip(str(exc))
    assert timings["base"].median_ms > 0
