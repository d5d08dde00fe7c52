"""Calibration inputs a user uploads for the genie: checked against the open model, kept by content.

The genie's recipes name their calibration source and its SHA-256, and applying a candidate replays
its recipe, so an uploaded file must outlive the search: it is stored once under
``$MODELPS_HOME/calibration/<sha256>.npz``.
"""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np

from editor_ui.workspace import Workspace, home
from modelps.errors import ModelPSError

__all__ = ["CalibrationError", "store_calibration"]


class CalibrationError(ModelPSError):
    """An uploaded calibration file does not fit the open model."""


def store_calibration(ws: Workspace, data: bytes, filename: str = "upload") -> str:
    """Check ``data`` (an ``.npz``, one array per model input) against ``ws``'s model; return its stored path.

    Raises:
        CalibrationError: It is not an NPZ archive, or its arrays do not match the model's inputs.
    """
    from modelps.compress.calib import load_calibration

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            names = list(archive.files)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CalibrationError(f"{filename} is not an .npz archive of arrays ({exc})") from exc
    if not names:
        raise CalibrationError(f"{filename} holds no arrays")
    digest = hashlib.sha256(data).hexdigest()
    folder = home() / "calibration"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.npz"
    if not path.exists():
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)
    with ws.lock:
        model = ws.model.ir
    try:
        load_calibration(model, str(path), count=1)
    except ModelPSError as exc:
        raise CalibrationError(f"{filename} does not fit this model: {exc}") from exc
    return str(path)
