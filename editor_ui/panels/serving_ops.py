"""Build and publish the open model to the local repository, and try a served model over HTTP."""

from __future__ import annotations

import io as _io
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from editor_ui.actions import Outcome
from editor_ui.panels.server import child_env, http, repository, server_state
from editor_ui.workspace import Workspace

__all__ = ["image_input", "publish", "try_model"]


def _modelps(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelps", *args], capture_output=True, text=True, timeout=timeout, env=child_env()
    )


def publish(ws: Workspace, name: str, backend: str) -> Outcome:
    """Build the current model for ``backend`` and publish it to the local repository.

    If the local server is running, it is asked to load the new model.
    """
    with tempfile.TemporaryDirectory(prefix="modelps-publish-") as tmp:
        path = ws.model.save(Path(tmp, "model.onnx"))
        built = Path(tmp, "model.plan" if backend == "tensorrt" else "built.onnx")
        done = _modelps("build", str(path), "--backend", backend, "-o", str(built))
        if done.returncode != 0:
            return Outcome(False, f"Build failed: {_last_line(done.stderr)}")
        done = _modelps("publish", str(built), "--repo", str(repository()), "--name", name, "--backend", backend)
    if done.returncode != 0:
        return Outcome(False, f"Publish failed: {_last_line(done.stderr)}")
    message = f"Published {name} to {repository()}."
    state = server_state()
    if state.running:
        try:
            status, answer = http(f"{state.url}/v2/repository/models/{name}/load", {}, timeout=120)
        except OSError as exc:
            return Outcome(False, f"{message} Loading it on the server failed: {exc}")
        if status != 200:
            return Outcome(False, f"{message} The server refused to load it ({status}): {str(answer)[:200]}")
        message += " The server loaded it."
    return Outcome(True, message)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].removeprefix("modelps: error: ") if lines else ""


def image_input(data: bytes, shape: list[int]) -> np.ndarray:
    """Decode an image and resize it to an NCHW float input with ImageNet normalisation."""
    from PIL import Image

    height, width = int(shape[-2]), int(shape[-1])
    image = Image.open(_io.BytesIO(data)).convert("RGB").resize((width, height))
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = (array - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    return array.transpose(2, 0, 1)[None].astype(np.float32)


def try_model(name: str, image: bytes | None = None, *, seed: int = 0) -> tuple[Outcome, dict[str, Any] | None]:
    """Send one request (an image, or seeded random input) to the served model; summarise the answer.

    Uses the Open Inference Protocol with binary tensors; returns the outputs' shapes, first values and
    norms, and the request latency.
    """
    from serving import client
    from serving.datatypes import to_numpy
    from serving.errors import ServingError

    state = server_state()
    if not state.running:
        return Outcome(False, "The server is not running."), None
    try:
        meta = client.metadata(state.url, name, timeout=10)
        feeds: dict[str, np.ndarray] = {}
        rng = np.random.default_rng(seed)
        for spec in meta["inputs"]:
            shape = [d if d > 0 else 1 for d in spec["shape"]]
            dtype = to_numpy(spec["datatype"])
            if image is not None and len(shape) == 4 and shape[1] == 3 and dtype == np.float32:
                feeds[spec["name"]] = image_input(image, shape)
            elif np.issubdtype(dtype, np.floating):
                feeds[spec["name"]] = rng.standard_normal(shape).astype(dtype)
            else:
                feeds[spec["name"]] = rng.integers(0, 8, shape).astype(dtype)
        start = time.perf_counter()
        outputs = client.infer(state.url, name, feeds, timeout=60)
        latency_ms = (time.perf_counter() - start) * 1000
    except ServingError as exc:
        return Outcome(False, f"The request failed: {exc}"), None
    except Exception as exc:  # e.g. an undecodable image
        return Outcome(False, f"Cannot use that input: {exc}"), None
    summary = []
    for out_name, array in outputs.items():
        values = np.asarray(array, dtype=np.float64).reshape(-1)
        summary.append(
            {
                "name": out_name,
                "shape": list(array.shape),
                "datatype": str(array.dtype),
                "first values": [round(float(v), 5) for v in values[:8]],
                "norm": float(np.linalg.norm(values)) if values.size else 0.0,
            }
        )
    return Outcome(True, f"{name} answered in {latency_ms:.1f} ms"), {"latency_ms": latency_ms, "outputs": summary}
