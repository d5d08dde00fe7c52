"""Model downloads: written to a file with progress, and never while validation has the weights stubbed.

Validation and shape inference briefly point a model's large weights at a placeholder file
(``__modelps_weight_stub__``); serializing the model at that moment from another thread fails. Every
function here holds the workspace's lock (:attr:`editor_ui.workspace.Workspace.lock`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from editor_ui.workspace import Workspace, home

__all__ = ["estimated_bytes", "model_bytes", "prepare_model_file"]


def model_bytes(ws: Workspace) -> bytes:
    """The current model serialized, waiting for any validation in progress."""
    return ws.model_bytes()


def estimated_bytes(ws: Workspace) -> int:
    """About how large the saved model is: its weights plus 64 KiB for the graph."""
    total = 0
    for graph in ws.model.ir.graphs():
        for value in graph.initializers.values():
            if value.const_value is not None:
                total += int(value.const_value.nbytes)
    return total + (64 << 10)


def prepare_model_file(
    ws: Workspace, progress: Callable[[float, str], None], *, folder: Path | None = None, poll_s: float = 0.1
) -> Path:
    """Save the current model to a file for download, calling ``progress(fraction, text)`` as it grows.

    Raises:
        ModelPSError: The model cannot be saved (the save's own error).
    """
    folder = folder or home() / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{ws.name}-r{ws.revision}.onnx"
    partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
    expected = max(1, estimated_bytes(ws))
    failure: list[BaseException] = []

    def save() -> None:
        try:
            with ws.lock:
                ws.model.save(partial)
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=save, name="model-download", daemon=True)
    worker.start()
    progress(0.0, f"Writing the model (about {expected / 1e6:.1f} MB)…")
    while worker.is_alive():
        worker.join(poll_s)
        size = partial.stat().st_size if partial.exists() else 0
        progress(min(0.99, size / expected), f"Writing the model: {size / 1e6:.1f} of about {expected / 1e6:.1f} MB")
    if failure:
        partial.unlink(missing_ok=True)
        raise failure[0]
    os.replace(partial, target)
    progress(1.0, f"Ready: {target.stat().st_size / 1e6:.1f} MB")
    time.sleep(0)
    return target
