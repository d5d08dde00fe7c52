"""The corpus cache: one folder per model under ``$MODELPS_HOME/corpus`` (default ``~/.modelps/corpus``).

A model is built into a temporary folder next to its final place and renamed onto it, under an
exclusive ``fcntl`` lock, so parallel processes (pytest-xdist workers) build each entry once and
never see a half-written one. Folder names carry the corpus version: a change that alters a model
bumps :data:`CORPUS_VERSION` and the model is rebuilt.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["CORPUS_VERSION", "MODEL_FILE", "cached_dir", "corpus_home", "read_meta"]

CORPUS_VERSION = 1
MODEL_FILE = "model.onnx"
_META = "meta.json"

logger = logging.getLogger(__name__)


def corpus_home(cache_dir: Path | None = None) -> Path:
    """``cache_dir``, or ``$MODELPS_HOME/corpus``; created if needed."""
    root = cache_dir or Path(os.environ.get("MODELPS_HOME") or Path.home() / ".modelps") / "corpus"
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path.with_name(path.name + ".lock"), "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_meta(folder: Path) -> dict[str, Any]:
    """The ``meta.json`` a builder left in ``folder``."""
    return json.loads((folder / _META).read_text())


def cached_dir(root: Path, key: str, produce: Callable[[Path], dict[str, Any]]) -> Path:
    """Return ``root/key``, calling ``produce(tmp_folder) -> meta`` to build it first if absent.

    ``produce`` writes :data:`MODEL_FILE` (and whatever sits beside it) into the folder it is given
    and returns the JSON-ready metadata stored as ``meta.json``.
    """
    final = root / key
    if (final / _META).is_file():
        return final
    with _locked(final):
        if (final / _META).is_file():  # another process built it while we waited
            return final
        if final.exists():  # a folder left by an interrupted build before the rename cannot exist; be safe
            shutil.rmtree(final)
        logger.info("building corpus entry %s", final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
        try:
            meta = produce(tmp)
            (tmp / _META).write_text(json.dumps(meta, indent=1, sort_keys=True))
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    return final
