from __future__ import annotations

import io as _io
import math
from collections.abc import Iterator

import numpy as np
import pytest

from editor_ui import panels
from editor_ui.workspace import LocalWorkspace
from modelps import runtime


def test_pareto_flags_and_candidate_rows() -> None:
    result = {
        "candidates": [
            {
                "name": "int8",
                "recipe": {"edits": [{"op": "remove_node", "node": "a"}]},
                "latency_ms": 2.0,
                "speedup": 2.0,
                "fidelity": {"centered_cosine": 0.999},
                "size_bytes": 2_000_000,
                "explanation": "INT8 everywhere",
            },
            {
                "name": "prune",
                "recipe": {"edits": []},
                "latency_ms": 3.0,
                "speedup": 1.3,
                "fidelity": {"centered_cosine": 0.99},
                "size_bytes": 3_000_000,
            },
            {
                "name": "both",
                "recipe": {"edits": []},
                "latency_ms": 1.0,
                "speedup": 4.0,
                "fidelity": {"centered_cosine": 0.98},
                "size_bytes": 1_000_000,
            },
        ],
        "recommended": {"name": "int8"},
    }
    rows = panels.candidate_rows(result)
    assert [r["pareto"] for r in rows] == [True, False, True]
    assert [r["recommended"] for r in rows] == [True, False, False]
    assert rows[0]["edits"] == "remove_node(node='a')" and rows[1]["edits"] == "(none)"
    assert rows[0]["size_mb"] == 2.0 and rows[0]["fidelity"] == 0.999
    spec = panels.pareto_spec(rows, baseline_ms=4.0)
    front = next(s for s in spec["series"] if s["name"] == "Pareto front")
    assert front["data"] == [[1.0, 0.98], [2.0, 0.999]]


def test_given_pareto_flags_are_kept() -> None:
    rows = panels.candidate_rows({"candidates": [{"latency_ms": 1, "fidelity": 0.5, "pareto": False}]})
    assert rows[0]["pareto"] is False and math.isnan(rows[0]["speedup"])


def test_stage_fraction_is_monotonic() -> None:
    seen = [panels.stage_fraction(stage, done, 4) for stage in panels.GENIE_STAGES for done in range(5)]
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0


def test_apply_candidate_adds_revisions(ws: LocalWorkspace) -> None:
    result = {
        "candidates": [
            {
                "recipe": {
                    "modelps_recipe": 1,
                    "base": {"sha256": "00" * 32},
                    "edits": [{"op": "remove_node", "node": "/block1/Relu_6"}],
                }
            }
        ]
    }
    out = panels.apply_candidate(ws, result, 0)
    assert out.ok and ws.revision == 1
    assert not panels.apply_candidate(ws, result, 3).ok


@pytest.fixture
def server(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if not panels.serving_available():
        pytest.skip("serving is not installed")
    monkeypatch.setenv("MODELPS_HOME", str(tmp_path))
    out = panels.start_server()
    assert out.ok, out.message
    try:
        yield
    finally:
        assert panels.stop_server().ok
        assert not panels.server_state().running


@pytest.mark.slow
def test_publish_and_try_matches_in_process_runtime(server: None, ws: LocalWorkspace) -> None:
    out = panels.publish(ws, "small", "ort-cpu")
    assert out.ok, out.message
    assert out.message.endswith("The server loaded it.")
    assert panels.served_models() == ["small"]
    outcome, result = panels.try_model("small", seed=7)
    assert outcome.ok and result is not None
    feeds = {"input": np.random.default_rng(7).standard_normal((1, 4, 8, 8)).astype(np.float32)}
    expected = runtime.run(ws.model.ir, feeds)["logits"].reshape(-1)
    (served,) = result["outputs"]
    assert served["name"] == "logits" and served["shape"] == [1, 10]
    np.testing.assert_allclose(served["first values"], np.round(expected[:8], 5), atol=2e-5)
    assert served["norm"] == pytest.approx(float(np.linalg.norm(expected)), rel=1e-5)
    missing = panels.try_model("nope")[0]
    assert not missing.ok and "nope" in missing.message


@pytest.mark.slow
def test_try_with_an_image(server: None, tmp_path) -> None:
    from PIL import Image

    from editor_ui.samples import residual_cnn
    from modelps import io

    model_path = tmp_path / "rgb.onnx"
    io.save(residual_cnn(10, channels=3, size=16), model_path)
    ws = LocalWorkspace(model_path, user="u")
    assert panels.publish(ws, "rgb", "ort-cpu").ok
    buffer = _io.BytesIO()
    Image.fromarray(np.full((40, 30, 3), 128, np.uint8)).save(buffer, format="PNG")
    outcome, result = panels.try_model("rgb", buffer.getvalue())
    assert outcome.ok, outcome.message
    expected = runtime.run(ws.model.ir, {"input": panels.image_input(buffer.getvalue(), [1, 3, 16, 16])})
    assert result["outputs"][0]["norm"] == pytest.approx(float(np.linalg.norm(expected["logits"])), rel=1e-5)
    bad = panels.try_model("rgb", b"not an image")[0]
    assert not bad.ok and bad.message.startswith("Cannot use that input")


def test_stop_without_server_is_harmless(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPS_HOME", str(tmp_path))
    assert panels.stop_server().message == "The server was not running."
    assert panels.try_model("x")[0].message == "The server is not running."
    assert panels.served_models() == []


def test_safe_name() -> None:
    assert panels.safe_name("../evil name") == "_evil_name"


@pytest.mark.slow
@pytest.mark.skipif(not panels.genie_available(), reason="the genie is not installed")
def test_genie_search_reports_progress_and_candidates_apply(tmp_path) -> None:
    from editor_ui.samples import residual_cnn
    from modelps import io

    path = tmp_path / "tiny.onnx"
    io.save(residual_cnn(20, channels=3, size=16), path)
    ws = LocalWorkspace(path, user="gina")
    seen: list[float] = []
    request = panels.GenieRequest("ort-cpu", 1.5, None, 0.9, 15.0, ("quantize", "prune"))
    outcome, result = panels.run_genie(ws, request, lambda fraction, text: seen.append(fraction))
    assert outcome.ok, outcome.message
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0
    rows = panels.candidate_rows(result)
    assert rows and all(r["latency_ms"] > 0 and 0 < r["fidelity"] <= 1.0 + 1e-9 for r in rows)
    assert any(r["pareto"] for r in rows)
    before = ws.model.to_bytes()
    applied = panels.apply_candidate(ws, result, 0)
    assert applied.ok and ws.revision == len(result["candidates"][0]["recipe"]["edits"])
    assert ws.model.to_bytes() != before
    bad = panels.GenieRequest("ort-cpu", 1.5, None, 0.9, 5.0, ("teleport",))
    outcome, result = panels.run_genie(ws, bad, lambda f, t: None)
    assert not outcome.ok and "unknown method" in outcome.message and result is None


@pytest.mark.skipif(not panels.genie_available(), reason="the genie is not installed")
def test_genie_job_reports_eta_and_cancels(ws: LocalWorkspace, monkeypatch) -> None:
    """Regression: the genie page had no ETA and no Cancel."""
    import threading
    import time

    import genie

    calls: dict[str, object] = {}

    class Partial:
        sensitivity: dict = {}

        def to_dict(self) -> dict:
            return {"candidates": [{"name": "int8"}]}

    def search(path, goal, progress=None, cancel: threading.Event | None = None):
        calls["cancel"] = cancel
        while not cancel.is_set():  # type: ignore[union-attr]
            progress("sensitivity", 600, 1000)
            time.sleep(0.005)
        return Partial()  # what was measured so far

    monkeypatch.setattr(genie, "search", search)
    job = panels.GenieJob(ws, panels.GenieRequest("ort-cpu", 1.5, None, 0.9, 600.0, ("prune",))).start()
    deadline = time.monotonic() + 20
    while job.fraction < 0.5 and time.monotonic() < deadline:
        time.sleep(0.02)
    eta = job.eta_s()
    assert eta is not None and 0 < eta < 600
    job.cancel()
    assert job.done and job.outcome is not None and not job.outcome.ok
    # genie.search takes the event and returns what it measured so far
    assert job.outcome.message == "Search cancelled; 1 candidate measured so far." and job.result is not None
    assert isinstance(calls["cancel"], threading.Event)


@pytest.mark.skipif(not panels.genie_available(), reason="the genie is not installed")
def test_uploaded_calibration_is_checked_stored_by_content_and_replayed(tmp_path, monkeypatch) -> None:
    from editor_ui.samples import residual_cnn
    from modelps import io

    monkeypatch.setenv("MODELPS_HOME", str(tmp_path / "home"))
    path = tmp_path / "tiny.onnx"
    io.save(residual_cnn(20, channels=3, size=16), path)
    ws = LocalWorkspace(path, user="gina")

    def npz(**arrays: np.ndarray) -> bytes:
        buffer = _io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    images = np.random.default_rng(0).standard_normal((12, 3, 16, 16)).astype(np.float32)
    stored = panels.store_calibration(ws, npz(input=images), "mine.npz")
    assert stored.startswith(str(tmp_path / "home" / "calibration")) and stored.endswith(".npz")
    assert panels.store_calibration(ws, npz(input=images), "again.npz") == stored  # kept once, by content
    with pytest.raises(
        panels.CalibrationError, match=r"wrong\.npz does not fit this model: .*lacks input\(s\) \['input'\]"
    ):
        panels.store_calibration(ws, npz(pixels=images), "wrong.npz")
    with pytest.raises(panels.CalibrationError, match=r"^notes\.npz is not an \.npz archive of arrays"):
        panels.store_calibration(ws, b"just some text", "notes.npz")

    request = panels.GenieRequest(
        "ort-cpu", None, None, 0.9, 20.0, ("quantize",), calib=stored, calib_samples=8, finetune_steps=0,
        mixed_precision=False,
    )  # fmt: skip
    outcome, result = panels.run_genie(ws, request, lambda fraction, text: None)
    assert outcome.ok, outcome.message
    edits = [
        e
        for c in result["candidates"]
        for e in (c["recipe"]["edits"] if isinstance(c["recipe"], dict) else c["recipe"])
    ]
    assert edits and all(e["calib"].startswith(stored) for e in edits if e["op"] == "quantize_int8")
    applied = panels.apply_candidate(ws, result, 0)  # the replay reads the stored file again
    assert applied.ok, applied.message
