"""Opening models: uploads (size limit, clear errors), zoo exports with an optional checkpoint.

Example::

    >>> check_upload_size(10, limit_mb=1)
    >>> try:
    ...     check_upload_size(3 << 20, limit_mb=1)
    ... except ModelLoadError as exc:
    ...     print(exc)
    the file is 3.0 MB; the upload limit is 1 MB (set MODELPS_UI_MAX_UPLOAD_MB to raise it)
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from editor_ui.workspace import LocalWorkspace, home
from modelps.errors import ModelLoadError, ModelPSError

__all__ = [
    "check_upload_size",
    "max_upload_mb",
    "open_upload",
    "open_zoo",
    "user_from_headers",
    "zoo_available",
    "zoo_models",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_MB = 1024


def max_upload_mb() -> int:
    """Return the upload size limit in MB (``MODELPS_UI_MAX_UPLOAD_MB``, default 1024)."""
    try:
        return max(1, int(os.environ.get("MODELPS_UI_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB)))
    except ValueError:
        return DEFAULT_MAX_UPLOAD_MB


def user_from_headers(headers: dict[str, str], header: str | None = None) -> str:
    """Return the user name a trusted reverse proxy put in ``header`` (``MODELPS_UI_USER_HEADER``), or ''.

    Only set ``MODELPS_UI_USER_HEADER`` when every request reaches the app through a proxy that
    authenticates users and overwrites that header; otherwise anyone could claim any name.

    >>> user_from_headers({"X-Forwarded-User": " ann "}, "x-forwarded-user")
    'ann'
    >>> user_from_headers({"X-Forwarded-User": "ann"}, None)
    ''
    """
    header = header if header is not None else os.environ.get("MODELPS_UI_USER_HEADER")
    if not header:
        return ""
    wanted = header.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value.strip()[:200]
    return ""


def check_upload_size(size: int, *, limit_mb: int | None = None) -> None:
    """Refuse an upload larger than the limit.

    Raises:
        ModelLoadError: The file is too large; the message gives both sizes.
    """
    limit = max_upload_mb() if limit_mb is None else limit_mb
    if size > limit * (1 << 20):
        raise ModelLoadError(
            f"the file is {size / (1 << 20):.1f} MB; the upload limit is {limit} MB "
            "(set MODELPS_UI_MAX_UPLOAD_MB to raise it)"
        )


def open_upload(filename: str, data: bytes, *, user: str) -> LocalWorkspace:
    """Open uploaded ONNX bytes as a workspace.

    Raises:
        ModelLoadError: Too large, empty, not ONNX, or failing the loader's safety checks; the
            message starts with the file name.
    """
    check_upload_size(len(data))
    if not data:
        raise ModelLoadError(f"{filename}: the file is empty")
    folder = home() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp, Path(filename).name or "model.onnx")
        path.write_bytes(data)
        try:  # one hash in memory, one write: the file is moved into the model store once it loads
            digest = hashlib.sha256(data).hexdigest()
            return LocalWorkspace(path, user=user, name=Path(filename).stem, sha256=digest, move=True)
        except ModelLoadError as exc:
            raise ModelLoadError(f"{filename}: {_strip_path(str(exc), path)}") from exc


def _strip_path(message: str, path: Path) -> str:
    return message.replace(f"{path}: ", "").replace(str(path), Path(path).name)


def zoo_available() -> bool:
    """Whether the zoo package (and torch) can be imported."""
    try:
        from zoo.api import export  # noqa: F401
    except ImportError:
        return False
    return True


def zoo_models() -> list[dict[str, Any]]:
    """Return the zoo's models as table rows (name, family, input, output, parameters, description).

    Smallest first; ``[]`` without the zoo.
    """
    if not zoo_available():
        return []
    import zoo

    rows = []
    for spec in zoo.list_models():
        rows.append(
            {
                "name": str(spec.name),
                "family": str(getattr(spec, "family", "")),
                "input": "×".join(str(d) for d in getattr(spec, "input_shape", ())),
                "output": int(getattr(spec, "output_dim", 0) or 0),
                "parameters": int(getattr(spec, "params", 0) or 0),
                "description": str(getattr(spec, "description", "")),
            }
        )
    return sorted(rows, key=lambda row: row["parameters"])


def open_zoo(
    name: str,
    *,
    user: str,
    weights: str = "seeded",
    checkpoint: bytes | None = None,
    checkpoint_name: str = "checkpoint.pth",
) -> LocalWorkspace:
    """Export zoo model ``name`` (with ``weights`` or an uploaded checkpoint) and open it.

    Raises:
        ModelPSError: The zoo is missing, the name is unknown, or the checkpoint does not fit (the
            zoo's own message, which names the mismatched keys).
    """
    if not zoo_available():
        raise ModelPSError("the model zoo is not installed (pip install 'modelps[zoo]')")
    from zoo.api import export  # not ``zoo.export``: importing the submodule zoo/export.py shadows it

    folder = home() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        out = Path(tmp, f"{name}.onnx")
        kwargs: dict[str, Any] = {"weights": weights}
        if checkpoint is not None:
            ckpt = Path(tmp, Path(checkpoint_name).name or "checkpoint.pth")
            ckpt.write_bytes(checkpoint)
            kwargs = {"checkpoint": ckpt}
        export(name, out, **kwargs)
        return LocalWorkspace(out, user=user, name=name)
