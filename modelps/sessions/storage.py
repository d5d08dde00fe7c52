"""Where session models live: base models in the blob folder (and the database), snapshots, a head cache.

The model of a revision is rebuilt by replaying stored edits (:mod:`modelps.sessions.replay`) from
the nearest starting point: the model this process cached for the session, a snapshot in the blob
folder, or the base model. After a replay slower than ``snapshot_after_s`` a background thread stores
a snapshot of that revision, so the next open is fast. Snapshots are only an optimisation: a missing
or failed one costs time, never data.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from pathlib import Path

import onnx
import onnx_ir as ir
import sqlalchemy as sa

from modelps import io
from modelps.errors import ModelPSError
from modelps.model import Model
from modelps.sessions.access import Database, check_revision
from modelps.sessions.blobs import BlobStore
from modelps.sessions.replay import MissingRow, edit_chain, replay
from modelps.sessions.schema import blobs, snapshots

__all__ = ["ModelStore", "self_contained_bytes"]

logger = logging.getLogger(__name__)

_DB_BLOB_LIMIT = 512 << 20  # PostgreSQL bytea values stop at 1 GiB; larger bases stay in the blob folder


class ModelStore:
    """Models of session revisions: blobs, snapshots and a small per-process cache of head models.

    Args:
        database: The store's database.
        blob_dir: The blob folder.
        snapshot_after_s: Store a snapshot of a revision whose replay took longer than this.
        cache_size: How many sessions' head models to keep.
        blobs_in_db: Also keep base models in the database (the blob folder is then a local cache).
    """

    def __init__(
        self,
        database: Database,
        blob_dir: str | os.PathLike[str],
        *,
        snapshot_after_s: float,
        cache_size: int,
        blobs_in_db: bool,
    ) -> None:
        self._db = database
        self.blobs = BlobStore(blob_dir)
        self.snapshot_after_s = snapshot_after_s
        self.blobs_in_db = blobs_in_db
        self._cache_size = cache_size
        self._cache: collections.OrderedDict[str, tuple[int, Model]] = collections.OrderedDict()
        self._pending: dict[tuple[str, int], threading.Thread] = {}
        self._pending_lock = threading.Lock()

    def close(self) -> None:
        """Finish background snapshots and drop the cached models."""
        self.wait_for_snapshots()
        self._cache.clear()

    # -- reading models ------------------------------------------------------------------------

    def materialize(self, session_id: str, revision: int | None, user: str | None) -> Model:
        """Rebuild the model of ``revision`` (default: head) as a new model the caller owns."""
        with self._db.read() as conn:
            head = self._db.require(conn, session_id, user, "viewer").head
            number = head if revision is None else check_revision(session_id, revision, head)
        return self.build(session_id, number)

    def base_bytes(self, session_id: str, user: str | None) -> bytes:
        """Return the base model's file content."""
        with self._db.read() as conn:
            self._db.require(conn, session_id, user, "viewer")
            blob = self._db.base_blob(conn, session_id)
        return self.fetch(blob).read_bytes()

    def working_model(self, session_id: str, head: int) -> Model:
        """Return the head model for validating a write: this process's cached copy, else a rebuild.

        The model leaves the cache; give it back with :meth:`cache_put`.
        """
        cached = self._cache.pop(session_id, None)
        if cached is not None and cached[0] == head:
            return cached[1]
        return self.build(session_id, head, cached)

    def cache_put(self, session_id: str, revision: int, model: Model) -> None:
        """Keep ``model`` as the session's model at ``revision``, dropping the least recent session if full."""
        self._cache[session_id] = (revision, model)
        self._cache.move_to_end(session_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def build(
        self, session_id: str, revision: int, cached: tuple[int, Model] | None = None, *, snapshot: bool = True
    ) -> Model:
        """Replay the model of ``revision`` from the nearest snapshot, the ``cached`` model or the base."""
        # with a cached model, first read only the revisions after it: usually the walk stops there
        since = cached[0] + 1 if cached is not None and cached[0] <= revision else 0
        with self._db.read() as conn:
            base_blob = self._db.base_blob(conn, session_id)
            rows = self._db.revision_rows(conn, session_id, revision, since)
            snaps = dict(
                conn.execute(
                    sa.select(snapshots.c.revision, snapshots.c.sha256).where(
                        snapshots.c.session_id == session_id, snapshots.c.revision <= revision
                    )
                ).all()
            )

        def available(number: int) -> bool:
            if cached is not None and cached[0] == number:
                return True
            return number in snaps and self.blobs.has(snaps[number])

        try:
            start, chain = edit_chain(rows, revision, available)
        except MissingRow:
            if not since:
                raise
            with self._db.read() as conn:
                rows = self._db.revision_rows(conn, session_id, revision)
            start, chain = edit_chain(rows, revision, available)
        if cached is not None and cached[0] == start and start > 0:
            model = cached[1]
        elif start > 0:
            model = self.load(snaps[start])
        else:
            model = self.load(base_blob)
        model, seconds = replay(model, chain)
        logger.debug("session %s: rebuilt revision %d from %d in %.3f s", session_id, revision, start, seconds)
        if snapshot and seconds > self.snapshot_after_s and revision not in snaps:
            self._snapshot_later(session_id, revision)
        return model

    # -- blobs ---------------------------------------------------------------------------------

    def load(self, sha256: str) -> Model:
        """Load the model stored as blob ``sha256``."""
        return Model(io.load(self.fetch(sha256)))

    def put_base(self, data: bytes) -> str:
        """Store a base model in the blob folder and, with ``blobs_in_db``, in the database."""
        sha = self.blobs.put(data)
        if self.blobs_in_db and len(data) > _DB_BLOB_LIMIT:
            logger.warning(
                "base model %s… is %d MiB: kept only in the blob folder %s (share that folder between clients)",
                sha[:12],
                len(data) >> 20,
                self.blobs.root,
            )
        elif self.blobs_in_db:
            with self._db.write() as conn:
                if conn.execute(sa.select(blobs.c.size).where(blobs.c.sha256 == sha)).first() is None:
                    conn.execute(sa.insert(blobs).values(sha256=sha, size=len(data), data=data))
        return sha

    def fetch(self, sha256: str) -> Path:
        """Return the local path of a blob, copying it from the database first if only the database has it."""
        path = self.blobs.path(sha256)
        if path.is_file():
            return path
        if self.blobs_in_db:
            with self._db.read() as conn:
                data = conn.execute(sa.select(blobs.c.data).where(blobs.c.sha256 == sha256)).scalar()
            if data is not None:
                self.blobs.put(bytes(data))
                return path
        self.blobs.get(sha256)  # raises the explanatory error
        return path

    # -- snapshots -----------------------------------------------------------------------------

    def wait_for_snapshots(self, timeout: float | None = None) -> None:
        """Wait until the snapshots being written in the background are stored."""
        for thread in list(self._pending.values()):
            thread.join(timeout)

    def _snapshot_later(self, session_id: str, revision: int) -> None:
        """Store a snapshot of a revision from a background thread, so this open stays fast."""
        key = (session_id, revision)
        with self._pending_lock:
            if key in self._pending:
                return
            thread = threading.Thread(
                target=self._snapshot_job, args=key, name=f"modelps-snapshot-{session_id}-{revision}", daemon=True
            )
            self._pending[key] = thread
        thread.start()

    def _snapshot_job(self, session_id: str, revision: int) -> None:
        try:
            self._save_snapshot(session_id, revision, self.build(session_id, revision, snapshot=False))
        except Exception as exc:  # noqa: BLE001  (a snapshot is only an optimisation)
            logger.warning("session %s: no snapshot of revision %d (%s)", session_id, revision, exc)
        finally:
            with self._pending_lock:
                self._pending.pop((session_id, revision), None)

    def _save_snapshot(self, session_id: str, revision: int, model: Model) -> None:
        try:
            sha = self.blobs.put(model.to_bytes())
            with self._db.write() as conn:
                exists = conn.execute(
                    sa.select(snapshots.c.sha256).where(
                        snapshots.c.session_id == session_id, snapshots.c.revision == revision
                    )
                ).first()
                if exists is None:
                    conn.execute(sa.insert(snapshots).values(session_id=session_id, revision=revision, sha256=sha))
            logger.info("session %s: stored a snapshot of revision %d", session_id, revision)
        except (ModelPSError, sa.exc.IntegrityError, OSError) as exc:  # a snapshot is only an optimisation
            logger.warning("session %s: no snapshot of revision %d (%s)", session_id, revision, exc)


def self_contained_bytes(path: Path, model: ir.Model) -> bytes:
    """Return the file's bytes, or for a model with external data the whole model serialized in one piece."""
    proto = io.load_proto(path)
    if not any(t.data_location == onnx.TensorProto.EXTERNAL for t, _ in io.iter_tensors(proto)):
        return path.read_bytes()
    ir.external_data.load_to_model(model)
    return io.model_bytes_or_error(model)
