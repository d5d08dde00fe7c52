"""The zoo's on-disk cache under ``$MODELPS_HOME/zoo`` (default ``~/.modelps/zoo``).

Files appear atomically (written to a temporary name, then renamed) and are produced under an
exclusive ``fcntl`` lock, so parallel processes (pytest-xdist workers) build each entry once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["DEMO_VERSION", "atomic_path", "cached_file", "zoo_home"]

DEMO_VERSION = 5  # bump when demo training changes: cached demo weights and exports are rebuilt

logger = logging.getLogger(__name__)


def zoo_home() -> Path:
    """``$MODELPS_HOME/zoo``, created if needed."""
    home = Path(os.environ.get("MODELPS_HOME") or Path.home() / ".modelps") / "zoo"
    home.mkdir(parents=True, exist_ok=True)
    return home


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cached_file(relative: str, produce: Callable[[Path], None]) -> Path:
    """Return ``zoo_home()/relative``, calling ``produce(tmp_path)`` to build it first if absent."""
    path = zoo_home() / relative
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        if path.is_file():  # another process built it while we waited
            return path
        logger.info("building cache entry %s", path)
        with atomic_path(path) as tmp:
            produce(tmp)
    return path
