"""A content-addressed folder of model files: ``ROOT/<sha[:2]>/<sha>``, written atomically."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from modelps.sessions.errors import StoreError

__all__ = ["BlobStore"]


class BlobStore:
    """Files named by the SHA-256 of their content; a file is complete or absent, never partial.

    Example::

        >>> import tempfile
        >>> blobs = BlobStore(tempfile.mkdtemp())
        >>> sha = blobs.put(b"hello")
        >>> sha[:12], blobs.get(sha)
        ('2cf24dba5fb0', b'hello')
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where the blob ``sha256`` lives (it may not exist)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise StoreError(f"{sha256!r} is not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Store ``data`` (once) and return its SHA-256."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.is_file() and target.stat().st_size == len(data):
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return sha

    def get(self, sha256: str) -> bytes:
        """Return the blob's bytes.

        Raises:
            StoreError: The blob is missing (the blob folder is not the one the database was used with?).
        """
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise StoreError(
                f"model blob {sha256[:12]}… is missing from {self.root} (is MODELPS_HOME the folder this store was "
                "created with?)"
            ) from None
