"""Session bundles: one zip file with the base model, the history, the head recipe and comments.

Layout::

    modelps_session.json   {"modelps_session": 1, "name", "base": {"sha256", "blob_sha256"}, "owner",
                            "created", "revisions": [...], "comments": [...]}
    base.onnx              the base model (self-contained)
    recipe.json            the head revision's recipe, for ``modelps edit`` without a store
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from modelps.recipe import Recipe
from modelps.sessions.errors import StoreError
from modelps.sessions.records import CommentInfo, RevisionInfo, SessionInfo

__all__ = ["BUNDLE_VERSION", "BundleContent", "read_bundle", "write_bundle"]

BUNDLE_VERSION = 1
_META = "modelps_session.json"
_BASE = "base.onnx"
_RECIPE = "recipe.json"
_MAX_META_BYTES = 256 << 20


@dataclasses.dataclass(frozen=True)
class BundleContent:
    """What a bundle holds."""

    name: str
    base_sha256: str
    base: bytes
    history: list[RevisionInfo]
    notes: list[CommentInfo]


def write_bundle(
    path: str | os.PathLike[str],
    *,
    info: SessionInfo,
    base: bytes,
    history: list[RevisionInfo],
    recipe: Recipe,
    notes: list[CommentInfo],
) -> Path:
    """Write a bundle atomically (a temporary file renamed into place)."""
    target = Path(path)
    meta = {
        "modelps_session": BUNDLE_VERSION,
        "name": info.name,
        "base": {"sha256": info.base_sha256, "blob_sha256": hashlib.sha256(base).hexdigest()},
        "owner": info.owner,
        "created": info.to_dict()["created"],
        "revisions": [rev.to_dict() for rev in history],
        "comments": [note.to_dict() for note in notes],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_META, json.dumps(meta, indent=1))
        zf.writestr(_RECIPE, recipe.to_json() + "\n")
        zf.writestr(_BASE, base)
    os.replace(tmp, target)
    return target


def read_bundle(path: str | os.PathLike[str]) -> BundleContent:
    """Read and check a bundle.

    Raises:
        StoreError: Not a zip, not a ModelPS session bundle, an entry missing, or the base model
            does not match its recorded hash.
    """
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such bundle file")
    if not zipfile.is_zipfile(path):
        raise StoreError(f"{path}: not a session bundle (not a zip file)")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            for needed in (_META, _BASE):
                if needed not in names:
                    raise StoreError(f"{path}: not a session bundle (no {needed})")
            if zf.getinfo(_META).file_size > _MAX_META_BYTES:
                raise StoreError(f"{path}: {_META} is implausibly large")
            meta = json.loads(zf.read(_META))
            base = zf.read(_BASE)
    except (zipfile.BadZipFile, OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: damaged session bundle ({exc})") from exc
    return _parse(path, meta, base)


def _parse(path: Path, meta: Any, base: bytes) -> BundleContent:
    if not isinstance(meta, dict) or meta.get("modelps_session") != BUNDLE_VERSION:
        raise StoreError(f"{path}: not a ModelPS session bundle version {BUNDLE_VERSION}")
    try:
        base_info = meta["base"]
        if hashlib.sha256(base).hexdigest() != base_info["blob_sha256"]:
            raise StoreError(f"{path}: the base model does not match its recorded hash (damaged bundle)")
        history = [_revision(raw) for raw in meta["revisions"]]
        notes = [_comment(index, raw) for index, raw in enumerate(meta.get("comments", []))]
        return BundleContent(str(meta["name"]), str(base_info["sha256"]), base, history, notes)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"{path}: malformed {_META} ({type(exc).__name__}: {exc})") from exc


def _revision(raw: dict[str, Any]) -> RevisionInfo:
    edit = raw.get("edit")
    if edit is not None and not isinstance(edit, dict):
        raise ValueError(f"revision {raw.get('revision')}: edit must be an object")
    return RevisionInfo(
        revision=int(raw["revision"]),
        parent=None if raw.get("parent") is None else int(raw["parent"]),
        author=_text(raw["author"]),
        time=dt.datetime.fromisoformat(raw["time"]),
        kind=str(raw["kind"]),
        edit=edit,
        target=None if raw.get("target") is None else int(raw["target"]),
        message=None if raw.get("message") is None else str(raw["message"]),
    )


def _comment(index: int, raw: dict[str, Any]) -> CommentInfo:
    return CommentInfo(
        id=index + 1,
        author=_text(raw["author"]),
        time=dt.datetime.fromisoformat(raw["time"]),
        text=str(raw["text"]),
        node=None if raw.get("node") is None else str(raw["node"]),
        revision=None if raw.get("revision") is None else int(raw["revision"]),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value
