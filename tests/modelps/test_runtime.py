"""ONNX Runtime helpers: sessions for in-memory models and GPU-provider fallback detection."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from modelps import runtime
from tests.modelps.compress import nets


class _SessionOn:
    """What ``InferenceSession.get_providers`` reports after ONNX Runtime fell back to the CPU."""

    def __init__(self, *active: str) -> None:
        self.active = list(active)

    def get_providers(self) -> list[str]:
        return self.active


def test_session_for_runs_on_the_cpu_and_reports_no_fallback() -> None:
    model = nets.resnet18(width=8)
    session = runtime.session_for(model, threads=1)
    assert runtime.dropped_provider(session, ["CPUExecutionProvider"]) is None
    feeds = runtime.make_inputs(model)
    (out,) = session.run(None, feeds)[:1]
    assert np.isfinite(out).all()


def test_dropped_provider_names_the_provider_that_did_not_start() -> None:
    fallen = _SessionOn("CPUExecutionProvider")
    message = runtime.dropped_provider(fallen, [("CUDAExecutionProvider", {}), "CPUExecutionProvider"])
    assert message is not None
    assert message.startswith(
        "ONNX Runtime could not start CUDAExecutionProvider and fell back to CPUExecutionProvider"
    )
    trt = runtime.dropped_provider(fallen, ["TensorrtExecutionProvider", "CUDAExecutionProvider"])
    assert trt is not None and "TensorRT's libraries" in trt
    assert runtime.dropped_provider(_SessionOn("CUDAExecutionProvider", "CPUExecutionProvider"),
                                    ["CUDAExecutionProvider"]) is None  # fmt: skip


def test_preload_is_a_no_op_for_cpu_sessions() -> None:
    calls: list[int] = []

    class _Ort:
        @staticmethod
        def preload_dlls() -> None:
            calls.append(1)

    runtime.preload_gpu_libraries(_Ort, ["CPUExecutionProvider"])
    assert calls == []
    runtime.preload_gpu_libraries(_Ort, ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert calls == [1]
    assert "CPUExecutionProvider" in ort.get_available_providers()
