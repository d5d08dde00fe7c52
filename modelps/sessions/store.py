"""The session store: shared edit sessions with linear history, roles and optimistic writes.

Example::

    >>> import tempfile, pathlib, onnx_ir as ir
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> model = ir.from_onnx_text('''<ir_version: 8, opset_import: ["" : 17]>
    ...     g (float[2] x) => (float[2] y) { t = Identity(x)  y = Relu(t) }''')
    >>> _ = ir.save(model, str(tmp / "m.onnx"))
    >>> store = SessionStore(tmp / "s.db", blob_dir=tmp / "blobs")
    >>> s = store.create_session(tmp / "m.onnx", name="demo", user="ann")
    >>> edit = {"op": "rename", "kind": "node", "old": "n0", "new": "copy"}
    >>> store.apply(s.id, "ann", edit, expect_revision=0).revision
    1
    >>> store.materialize(s.id).nodes_named()
    ['copy', 'n1']
    >>> store.undo(s.id, "ann").revision, store.materialize(s.id).nodes_named()
    (2, ['n0', 'n1'])
    >>> store.close()
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import onnx
import onnx_ir as ir
import sqlalchemy as sa

from modelps import io
from modelps.edits import Edit, edit_from_dict
from modelps.errors import EditError, ModelPSError, ValidationError
from modelps.model import Model
from modelps.recipe import Recipe
from modelps.sessions import db
from modelps.sessions.blobs import BlobStore
from modelps.sessions.errors import (
    ConflictError,
    PermissionDenied,
    RebaseError,
    RevisionNotFound,
    SessionError,
    SessionNotFound,
    StoreError,
)
from modelps.sessions.records import CommentInfo, RecipeDiff, RevisionInfo, SessionInfo
from modelps.sessions.replay import MissingRow, RevisionRow, edit_chain, replay, undo_target
from modelps.sessions.schema import blobs, comments, members, revisions, sessions, snapshots, users
from modelps.validate import validate

__all__ = ["SessionStore", "parse_edit"]

logger = logging.getLogger(__name__)

_RANK = {"viewer": 1, "editor": 2, "owner": 3}
_DB_BLOB_LIMIT = 512 << 20  # PostgreSQL bytea values stop at 1 GiB; larger bases stay in the blob folder
_RETRYABLE_SQLSTATES = ("40001", "40P01")  # PostgreSQL serialization failure, deadlock


def parse_edit(edit: Edit | Mapping[str, Any] | str) -> Edit:
    """Build an edit from an :class:`~modelps.edits.Edit`, a recipe-JSON dict, or JSON text.

    Raises:
        EditError: The JSON is malformed, names no known edit, or has bad parameters.
    """
    if isinstance(edit, Edit):
        return edit
    if isinstance(edit, str):
        try:
            edit = json.loads(edit)
        except json.JSONDecodeError as exc:
            raise EditError(f"the edit is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    return edit_from_dict(edit)  # type: ignore[arg-type]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SessionStore:
    """Shared edit sessions in a database (SQLite by default, PostgreSQL by URL) plus a blob folder.

    Args:
        url: Database URL or SQLite file path; default ``$MODELPS_DB`` or ``$MODELPS_HOME/sessions.db``.
        blob_dir: Folder for model files; default ``$MODELPS_BLOBS`` or ``$MODELPS_HOME/blobs``.
        snapshot_after_s: Store a snapshot of a revision whose replay took longer than this.
        cache_size: How many sessions' head models this process keeps for fast writes.
        blobs_in_db: Also keep base models in the database, so clients on other machines (with
            their own blob folders) can open every session; default: on for PostgreSQL, off for
            SQLite. The blob folder then acts as a local cache; snapshots always stay local.

    ``user=None`` on a reading method means the local administrator (whoever can open the database
    directly); the editor UI always names its user, so roles apply. Writes always need a user.
    The store is safe to share between threads; each process opens its own.
    """

    def __init__(
        self,
        url: str | os.PathLike[str] | None = None,
        *,
        blob_dir: str | os.PathLike[str] | None = None,
        snapshot_after_s: float = 0.3,
        cache_size: int = 4,
        blobs_in_db: bool | None = None,
    ) -> None:
        self.url = db.resolve_url(url)
        self.engine = db.create_engine(self.url)
        # PostgreSQL reads run in autocommit: one round trip per query instead of BEGIN/query/COMMIT
        self._reader = (
            self.engine if db.is_sqlite(self.engine) else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        with self._errors("open"):
            db.upgrade(self.engine)
        self.blobs = BlobStore(blob_dir or os.environ.get("MODELPS_BLOBS") or db.default_home() / "blobs")
        self.snapshot_after_s = snapshot_after_s
        self.blobs_in_db = not db.is_sqlite(self.engine) if blobs_in_db is None else blobs_in_db
        self._cache_size = cache_size
        self._cache: collections.OrderedDict[str, tuple[int, Model]] = collections.OrderedDict()
        self._lock = threading.RLock()
        self._pending: dict[tuple[str, int], threading.Thread] = {}
        self._pending_lock = threading.Lock()

    def close(self) -> None:
        """Finish background snapshots, then release database connections and cached models."""
        self.wait_for_snapshots()
        self._cache.clear()
        self.engine.dispose()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SessionStore({sa.make_url(self.url).render_as_string(hide_password=True)!r})"

    # -- sessions and members -------------------------------------------------------------------

    def create_session(self, model: str | os.PathLike[str], *, name: str, user: str) -> SessionInfo:
        """Start a session on the model file ``model``, owned by ``user`` (revision 0 is the base model).

        Raises:
            ModelLoadError: The file is not a readable, safe ONNX model.
            ValidationError: The base model fails validation, so no edit could ever be stored.
        """
        _check_name(user, "user name")
        _check_name(name, "session name")
        path = Path(model)
        base = Model.load(path)
        try:
            validate(base.ir, "full")
        except ValidationError as exc:
            raise ValidationError(f"{path}: the base model fails validation: {exc}") from exc
        base_sha = io.file_sha256(path)
        blob = self._put_base(_self_contained_bytes(path, base.ir))
        session_id = uuid.uuid4().hex[:12]
        now = _now()
        with self._write() as conn:
            owner_id = self._ensure_user(conn, user)
            conn.execute(
                sa.insert(sessions).values(
                    id=session_id, name=name, base_sha256=base_sha, base_blob=blob, owner_id=owner_id, created_at=now
                )
            )
            conn.execute(sa.insert(members).values(session_id=session_id, user_id=owner_id, role="owner"))
            conn.execute(
                sa.insert(revisions).values(
                    session_id=session_id, number=0, parent=None, author_id=owner_id, created_at=now, kind="create"
                )
            )
        logger.info("created session %s (%s) on %s for %s", session_id, name, path, user)
        return SessionInfo(session_id, name, base_sha, user, now, 0, "owner")

    def list_sessions(self, user: str | None = None) -> list[SessionInfo]:
        """Sessions ``user`` is a member of (every session for ``user=None``), newest first."""
        owner = users.alias("owner")
        head = (
            sa.select(revisions.c.session_id, sa.func.max(revisions.c.number).label("head"))
            .group_by(revisions.c.session_id)
            .subquery()
        )
        query = (
            sa.select(sessions, owner.c.name.label("owner_name"), head.c.head)
            .join(owner, owner.c.id == sessions.c.owner_id)
            .join(head, head.c.session_id == sessions.c.id)
            .order_by(sessions.c.created_at.desc(), sessions.c.id)
        )
        if user is not None:
            query = (
                query.add_columns(members.c.role)
                .join(members, members.c.session_id == sessions.c.id)
                .join(users, users.c.id == members.c.user_id)
                .where(users.c.name == user)
            )
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            SessionInfo(
                r["id"], r["name"], r["base_sha256"], r["owner_name"], r["created_at"], r["head"], r.get("role")
            )
            for r in rows
        ]

    def get_session(self, session_id: str, user: str | None = None) -> SessionInfo:
        """One session's record (``role`` is ``user``'s role).

        Raises:
            SessionNotFound: No such session.
            PermissionDenied: ``user`` is not a member.
        """
        with self._read() as conn:
            access = self._require(conn, session_id, user, "viewer")
            row = (
                conn.execute(
                    sa.select(sessions, users.c.name.label("owner_name"))
                    .join(users, users.c.id == sessions.c.owner_id)
                    .where(sessions.c.id == session_id)
                )
                .mappings()
                .one()
            )
        return SessionInfo(
            row["id"], row["name"], row["base_sha256"], row["owner_name"], row["created_at"], access.head, access.role
        )

    def members(self, session_id: str, user: str | None = None) -> dict[str, str]:
        """Members of a session and their roles, ``{name: role}``."""
        with self._read() as conn:
            self._require(conn, session_id, user, "viewer")
            rows = conn.execute(
                sa.select(users.c.name, members.c.role)
                .join(users, users.c.id == members.c.user_id)
                .where(members.c.session_id == session_id)
                .order_by(users.c.name)
            ).all()
        return {name: role for name, role in rows}

    def share(self, session_id: str, user: str, grant: str, role: str) -> None:
        """Give ``grant`` the ``role`` (``editor`` or ``viewer``) in a session; only its owner may.

        Raises:
            PermissionDenied: ``user`` is not the owner.
            SessionError: The role is not ``editor``/``viewer``, or ``grant`` is the owner.
        """
        if role not in ("editor", "viewer"):
            raise SessionError(f"role {role!r} cannot be granted; choose 'editor' or 'viewer'")
        _check_name(grant, "user name")
        with self._write() as conn:
            self._require(conn, session_id, user, "owner")
            grant_id = self._ensure_user(conn, grant)
            current = self._role_of(conn, session_id, grant_id)
            if current == "owner":
                raise SessionError(f"{grant!r} owns session {session_id}; the owner's role cannot change")
            if current is None:
                conn.execute(sa.insert(members).values(session_id=session_id, user_id=grant_id, role=role))
            else:
                conn.execute(
                    sa.update(members)
                    .where(members.c.session_id == session_id, members.c.user_id == grant_id)
                    .values(role=role)
                )

    def revoke(self, session_id: str, user: str, member: str) -> None:
        """Remove ``member`` from a session; only its owner may, and the owner cannot be removed."""
        with self._write() as conn:
            self._require(conn, session_id, user, "owner")
            member_id = self._user_id(conn, member)
            role = None if member_id is None else self._role_of(conn, session_id, member_id)
            if role is None:
                raise SessionError(f"{member!r} is not a member of session {session_id}")
            if role == "owner":
                raise SessionError(f"{member!r} owns session {session_id} and cannot be removed")
            conn.execute(sa.delete(members).where(members.c.session_id == session_id, members.c.user_id == member_id))

    # -- history ---------------------------------------------------------------------------------

    def head(self, session_id: str, user: str | None = None) -> int:
        """Return the session's current revision number (one indexed query: cheap enough to poll).

        Raises:
            SessionNotFound: No such session.
        """
        with self._read() as conn:
            return self._require(conn, session_id, user, "viewer").head

    def log(
        self, session_id: str, user: str | None = None, *, since: int = 0, limit: int | None = None
    ) -> list[RevisionInfo]:
        """Revisions from ``since`` on, oldest first (revision 0 is the session's creation)."""
        query = (
            sa.select(revisions, users.c.name.label("author"))
            .join(users, users.c.id == revisions.c.author_id)
            .where(revisions.c.session_id == session_id, revisions.c.number >= since)
            .order_by(revisions.c.number)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            self._require(conn, session_id, user, "viewer")
            rows = conn.execute(query).mappings().all()
        return [_revision_info(r) for r in rows]

    def revision(self, session_id: str, number: int, user: str | None = None) -> RevisionInfo:
        """One revision's record.

        Raises:
            RevisionNotFound: The session has no revision ``number``.
        """
        found = self.log(session_id, user, since=number, limit=1)
        if not found or found[0].revision != number:
            self._check_revision(session_id, number, self.head(session_id))
        return found[0]

    def recipe(self, session_id: str, revision: int | None = None, user: str | None = None) -> Recipe:
        """Return the recipe that rebuilds ``revision`` (default: head) from the base model, undos resolved."""
        with self._read() as conn:
            head = self._require(conn, session_id, user, "viewer").head
            base_sha = conn.execute(sa.select(sessions.c.base_sha256).where(sessions.c.id == session_id)).scalar_one()
            number = head if revision is None else self._check_revision(session_id, revision, head)
            rows = self._rows(conn, session_id, number)
        _, chain = edit_chain(rows, number)
        return Recipe(tuple(edit_from_dict(row.edit or {}) for row in chain), base_sha)

    def diff(self, session_id: str, a: int, b: int, user: str | None = None) -> RecipeDiff:
        """How the recipes of revisions ``a`` and ``b`` differ (see :class:`RecipeDiff`)."""
        left = [e.to_dict() for e in self.recipe(session_id, a, user).edits]
        right = [e.to_dict() for e in self.recipe(session_id, b, user).edits]
        common = 0
        while common < min(len(left), len(right)) and left[common] == right[common]:
            common += 1
        return RecipeDiff(a, b, common, left[common:], right[common:])

    # -- writes ----------------------------------------------------------------------------------

    def apply(
        self,
        session_id: str,
        user: str,
        edit: Edit | Mapping[str, Any] | str,
        *,
        expect_revision: int,
        message: str | None = None,
    ) -> RevisionInfo:
        """Validate ``edit`` on the head model and store it as the next revision.

        Args:
            session_id: The session.
            user: The author; must be an editor or the owner.
            edit: The edit (object, recipe-JSON dict or JSON text).
            expect_revision: The revision the edit was made against; it must still be the head.
            message: An optional note shown in the log.

        Raises:
            ConflictError: The session moved on (the error names the current revision).
            EditError: The edit is malformed or fails validation; nothing is stored.
            PermissionDenied: ``user`` may not edit this session.
            RevisionNotFound: ``expect_revision`` is from the future.
        """
        parsed = parse_edit(edit)
        with self._lock, db.session_lock(self.engine, session_id):
            with self._read() as conn:
                head = self._require(conn, session_id, user, "editor").head
            self._check_expected(session_id, expect_revision, head)
            model = self._working_model(session_id, head)
            try:
                model.apply(parsed)
            except BaseException:
                self._cache_put(session_id, head, model)
                raise
            try:
                info = self._commit(session_id, user, head, kind="edit", edit=parsed.to_dict(), message=message)
            except BaseException:
                model.undo()
                self._cache_put(session_id, head, model)
                raise
            self._cache_put(session_id, info.revision, Model(model.ir, validation=model.validation))
        logger.info("session %s: revision %d by %s: %s", session_id, info.revision, user, parsed.describe())
        return info

    def rebase(
        self,
        session_id: str,
        user: str,
        edit: Edit | Mapping[str, Any] | str,
        *,
        made_against: int,
        message: str | None = None,
        attempts: int = 5,
    ) -> RevisionInfo:
        """Replay an edit made against an older revision on the current head, if it still applies.

        Raises:
            RebaseError: The edit no longer applies on the head; the message says why and lists
                the revisions made since ``made_against`` with their authors.
            ConflictError: Other writers kept winning for ``attempts`` tries.
        """
        parsed = parse_edit(edit)
        last: ConflictError | None = None
        for _ in range(attempts):
            head = self.head(session_id, user)
            self._check_revision(session_id, made_against, head)
            try:
                return self.apply(session_id, user, parsed, expect_revision=head, message=message)
            except ConflictError as exc:
                last = exc
            except EditError as exc:
                since = self.log(session_id, user, since=made_against + 1)
                changes = "; ".join(f"r{r.revision} by {r.author}: {_describe(r)}" for r in since) or "none"
                raise RebaseError(
                    f"session {session_id}: your edit {parsed.describe()} (made against revision {made_against}) "
                    f"no longer applies on revision {head}: {exc}. Changes since: {changes}"
                ) from exc
        assert last is not None
        raise last

    def undo(
        self, session_id: str, user: str, *, expect_revision: int | None = None, message: str | None = None
    ) -> RevisionInfo:
        """Add a revision that reverts the latest change still in effect (history is kept).

        Repeated undos walk back through the edits. With ``expect_revision`` a moved head is a
        :class:`ConflictError`; without it the undo applies to whatever the head is.

        Raises:
            SessionError: Nothing left to undo.
        """
        return self._revert(session_id, user, None, expect_revision, message)

    def checkout(
        self,
        session_id: str,
        user: str,
        revision: int,
        *,
        expect_revision: int | None = None,
        message: str | None = None,
    ) -> RevisionInfo:
        """Add a revision whose model equals revision ``revision`` (a revert, not a branch).

        Raises:
            RevisionNotFound: The session has no such revision.
        """
        return self._revert(session_id, user, revision, expect_revision, message)

    def _revert(
        self, session_id: str, user: str, to: int | None, expect_revision: int | None, message: str | None
    ) -> RevisionInfo:
        kind = "undo" if to is None else "checkout"
        for _ in range(10):
            with self._lock, db.session_lock(self.engine, session_id):
                with self._read() as conn:
                    head = self._require(conn, session_id, user, "editor").head
                    rows = self._rows(conn, session_id, head)
                if expect_revision is not None:
                    self._check_expected(session_id, expect_revision, head)
                if to is None:
                    target = undo_target(rows, head)
                    marker: dict[str, Any] = {"op": "undo", "reverts": target + 1, "to": target}
                else:
                    target = self._check_revision(session_id, to, head)
                    marker = {"op": "checkout", "to": target}
                try:
                    return self._commit(session_id, user, head, kind=kind, edit=marker, target=target, message=message)
                except ConflictError:
                    if expect_revision is not None:
                        raise
        raise StoreError(f"session {session_id}: too many concurrent writers; {kind} did not get through")

    def _commit(
        self,
        session_id: str,
        user: str,
        head: int,
        *,
        kind: str,
        edit: Mapping[str, Any] | None,
        target: int | None = None,
        message: str | None = None,
    ) -> RevisionInfo:
        """Insert revision ``head + 1`` if the head is still ``head``; exactly one racing writer wins."""
        now = _now()
        try:
            with self._write() as conn:
                access = self._require(conn, session_id, user, "editor")
                if access.head != head:
                    raise ConflictError(session_id, head, access.head)
                author_id = access.user_id
                conn.execute(
                    sa.insert(revisions).values(
                        session_id=session_id,
                        number=head + 1,
                        parent=head,
                        author_id=author_id,
                        created_at=now,
                        kind=kind,
                        edit=json.dumps(edit, sort_keys=True) if edit is not None else None,
                        target=target,
                        message=message,
                    )
                )
        except (sa.exc.IntegrityError, _Retryable):
            raise ConflictError(session_id, head, self.head(session_id)) from None
        return RevisionInfo(head + 1, head, user, now, kind, dict(edit) if edit else None, target, message)

    # -- models ----------------------------------------------------------------------------------

    def materialize(self, session_id: str, revision: int | None = None, user: str | None = None) -> Model:
        """Rebuild the model of ``revision`` (default: head) as a new :class:`~modelps.Model` the caller owns.

        Replays the stored edits from the nearest snapshot (or the base); after a replay slower than
        ``snapshot_after_s`` a background thread stores a snapshot of the revision so the next open
        is fast (:meth:`wait_for_snapshots`). The returned model's own
        undo history starts empty; :meth:`recipe` gives the session's full recipe.

        Raises:
            RevisionNotFound: The session has no such revision.
        """
        with self._read() as conn:
            head = self._require(conn, session_id, user, "viewer").head
            number = head if revision is None else self._check_revision(session_id, revision, head)
        return self._build(session_id, number)

    def export_onnx(
        self, session_id: str, path: str | os.PathLike[str], revision: int | None = None, user: str | None = None
    ) -> Path:
        """Save the model of ``revision`` (default: head) as an ONNX file."""
        return self.materialize(session_id, revision, user).save(path)

    def export_recipe(
        self, session_id: str, path: str | os.PathLike[str], revision: int | None = None, user: str | None = None
    ) -> Path:
        """Save the recipe of ``revision`` (default: head) as JSON; ``modelps edit`` replays it on the base."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(self.recipe(session_id, revision, user).to_json() + "\n")
        os.replace(tmp, target)
        return target

    def base_bytes(self, session_id: str, user: str | None = None) -> bytes:
        """Return the base model's file content."""
        with self._read() as conn:
            self._require(conn, session_id, user, "viewer")
            blob = conn.execute(sa.select(sessions.c.base_blob).where(sessions.c.id == session_id)).scalar_one()
        return self._fetch_blob(blob).read_bytes()

    def _working_model(self, session_id: str, head: int) -> Model:
        """Return the head model for validating a write: this process's cached copy, else a rebuild."""
        cached = self._cache.pop(session_id, None)
        if cached is not None and cached[0] == head:
            return cached[1]
        return self._build(session_id, head, cached)

    def _cache_put(self, session_id: str, revision: int, model: Model) -> None:
        self._cache[session_id] = (revision, model)
        self._cache.move_to_end(session_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _build(
        self, session_id: str, revision: int, cached: tuple[int, Model] | None = None, *, snapshot: bool = True
    ) -> Model:
        # with a cached model, first read only the revisions after it: usually the walk stops there
        since = cached[0] + 1 if cached is not None and cached[0] <= revision else 0
        with self._read() as conn:
            base_blob = conn.execute(sa.select(sessions.c.base_blob).where(sessions.c.id == session_id)).scalar_one()
            rows = self._rows(conn, session_id, revision, since)
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
            with self._read() as conn:
                rows = self._rows(conn, session_id, revision)
            start, chain = edit_chain(rows, revision, available)
        if cached is not None and cached[0] == start and start > 0:
            model = cached[1]
        elif start > 0:
            model = self._load_blob(snaps[start])
        else:
            model = self._load_blob(base_blob)
        model, seconds = replay(model, chain)
        logger.debug("session %s: rebuilt revision %d from %d in %.3f s", session_id, revision, start, seconds)
        if snapshot and seconds > self.snapshot_after_s and revision not in snaps:
            self._snapshot_later(session_id, revision)
        return model

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
            self._save_snapshot(session_id, revision, self._build(session_id, revision, snapshot=False))
        except Exception as exc:  # noqa: BLE001  (a snapshot is only an optimisation)
            logger.warning("session %s: no snapshot of revision %d (%s)", session_id, revision, exc)
        finally:
            with self._pending_lock:
                self._pending.pop((session_id, revision), None)

    def wait_for_snapshots(self, timeout: float | None = None) -> None:
        """Wait until the snapshots being written in the background are stored."""
        for thread in list(self._pending.values()):
            thread.join(timeout)

    def _load_blob(self, sha256: str) -> Model:
        return Model(io.load(self._fetch_blob(sha256)))

    def _put_base(self, data: bytes) -> str:
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
            with self._write() as conn:
                if conn.execute(sa.select(blobs.c.size).where(blobs.c.sha256 == sha)).first() is None:
                    conn.execute(sa.insert(blobs).values(sha256=sha, size=len(data), data=data))
        return sha

    def _fetch_blob(self, sha256: str) -> Path:
        """Return the local path of a blob, copying it from the database first if only the database has it."""
        path = self.blobs.path(sha256)
        if path.is_file():
            return path
        if self.blobs_in_db:
            with self._read() as conn:
                data = conn.execute(sa.select(blobs.c.data).where(blobs.c.sha256 == sha256)).scalar()
            if data is not None:
                self.blobs.put(bytes(data))
                return path
        self.blobs.get(sha256)  # raises the explanatory error
        return path

    def _save_snapshot(self, session_id: str, revision: int, model: Model) -> None:
        try:
            sha = self.blobs.put(model.to_bytes())
            with self._write() as conn:
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

    # -- comments --------------------------------------------------------------------------------

    def add_comment(
        self, session_id: str, user: str, text: str, *, node: str | None = None, revision: int | None = None
    ) -> CommentInfo:
        """Comment on a session, or on one node (``node``) as seen at ``revision``; any member may."""
        if not text.strip():
            raise SessionError("a comment needs some text")
        now = _now()
        with self._write() as conn:
            access = self._require(conn, session_id, user, "viewer")
            if revision is not None:
                self._check_revision(session_id, revision, access.head)
            author_id = self._ensure_user(conn, user)
            result = conn.execute(
                sa.insert(comments).values(
                    session_id=session_id, author_id=author_id, created_at=now, revision=revision, node=node, text=text
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            comment_id = key[0]
        return CommentInfo(int(comment_id), user, now, text, node, revision)

    def comments(self, session_id: str, user: str | None = None, *, node: str | None = None) -> list[CommentInfo]:
        """Comments on a session (only those about ``node`` if given), oldest first."""
        query = (
            sa.select(comments, users.c.name.label("author"))
            .join(users, users.c.id == comments.c.author_id)
            .where(comments.c.session_id == session_id)
            .order_by(comments.c.id)
        )
        if node is not None:
            query = query.where(comments.c.node == node)
        with self._read() as conn:
            self._require(conn, session_id, user, "viewer")
            rows = conn.execute(query).mappings().all()
        return [CommentInfo(r["id"], r["author"], r["created_at"], r["text"], r["node"], r["revision"]) for r in rows]

    # -- bundles ---------------------------------------------------------------------------------

    def export_bundle(self, session_id: str, path: str | os.PathLike[str], user: str | None = None) -> Path:
        """Write the session (base model, history, recipe, comments) as one zip file."""
        from modelps.sessions import bundle

        info = self.get_session(session_id, user)
        return bundle.write_bundle(
            path,
            info=info,
            base=self.base_bytes(session_id, user),
            history=self.log(session_id, user),
            recipe=self.recipe(session_id, None, user),
            notes=self.comments(session_id, user),
        )

    def import_bundle(self, path: str | os.PathLike[str], user: str, *, name: str | None = None) -> SessionInfo:
        """Create a new session, owned by ``user``, from a bundle; every edit is validated again.

        The history (authors, times, messages, undos) and comments are kept; the import is all or
        nothing.

        Raises:
            StoreError: The file is not a ModelPS session bundle or is damaged.
            EditError: An edit in the bundle fails validation (nothing is imported).
        """
        from modelps.sessions import bundle

        _check_name(user, "user name")
        content = bundle.read_bundle(path)
        base_blob = self._put_base(content.base)
        base = self._load_blob(base_blob)
        try:
            validate(base.ir, "full")
        except ValidationError as exc:
            raise StoreError(f"{path}: the bundle's base model fails validation: {exc}") from exc
        _validate_history(content.history, base_blob, self._load_blob)
        session_id = uuid.uuid4().hex[:12]
        now = _now()
        with self._write() as conn:
            owner_id = self._ensure_user(conn, user)
            conn.execute(
                sa.insert(sessions).values(
                    id=session_id,
                    name=name or content.name,
                    base_sha256=content.base_sha256,
                    base_blob=base_blob,
                    owner_id=owner_id,
                    created_at=now,
                )
            )
            conn.execute(sa.insert(members).values(session_id=session_id, user_id=owner_id, role="owner"))
            for rev in content.history:
                conn.execute(
                    sa.insert(revisions).values(
                        session_id=session_id,
                        number=rev.revision,
                        parent=rev.parent,
                        author_id=self._ensure_user(conn, rev.author),
                        created_at=rev.time,
                        kind=rev.kind,
                        edit=json.dumps(rev.edit, sort_keys=True) if rev.edit is not None else None,
                        target=rev.target,
                        message=rev.message,
                    )
                )
            for note in content.notes:
                conn.execute(
                    sa.insert(comments).values(
                        session_id=session_id,
                        author_id=self._ensure_user(conn, note.author),
                        created_at=note.time,
                        revision=note.revision,
                        node=note.node,
                        text=note.text,
                    )
                )
        head = content.history[-1].revision
        logger.info("imported %s as session %s (%d revisions) for %s", path, session_id, head, user)
        return SessionInfo(session_id, name or content.name, content.base_sha256, user, now, head, "owner")

    # -- database helpers ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
                raise _Retryable() from exc
            where = sa.make_url(self.url).render_as_string(hide_password=True)
            text = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            if "locked" in text:
                text += f" (another writer held it for over {db.BUSY_TIMEOUT_S:.0f} s)"
            raise StoreError(f"session store {where}: cannot {action}: {text}") from exc

    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._errors("read"), self._reader.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._errors("write"), db.write_transaction(self.engine) as conn:
            yield conn

    def _ensure_user(self, conn: sa.Connection, name: str) -> int:
        found = self._user_id(conn, name)
        if found is not None:
            return found
        insert = _insert_ignore(conn, users).values(name=name, created_at=_now())
        conn.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
        found = self._user_id(conn, name)
        assert found is not None
        return found

    @staticmethod
    def _user_id(conn: sa.Connection, name: str) -> int | None:
        return conn.execute(sa.select(users.c.id).where(users.c.name == name)).scalar()

    @staticmethod
    def _role_of(conn: sa.Connection, session_id: str, user_id: int) -> str | None:
        return conn.execute(
            sa.select(members.c.role).where(members.c.session_id == session_id, members.c.user_id == user_id)
        ).scalar()

    def _require(self, conn: sa.Connection, session_id: str, user: str | None, need: str) -> _Access:
        """Check in one query that the session exists and ``user`` holds at least role ``need``.

        Returns the user's role (``None`` for the administrator, ``user=None``) and the head revision.
        """
        head = (
            sa.select(sa.func.max(revisions.c.number))
            .where(revisions.c.session_id == sessions.c.id)
            .scalar_subquery()
            .label("head")
        )
        columns: list[Any] = [sessions.c.id, head]
        if user is not None:
            user_id = sa.select(users.c.id).where(users.c.name == user).scalar_subquery()
            role = (
                sa.select(members.c.role)
                .where(members.c.session_id == sessions.c.id, members.c.user_id == user_id)
                .scalar_subquery()
                .label("role")
            )
            columns += [role, user_id.label("user_id")]
        row = conn.execute(sa.select(*columns).where(sessions.c.id == session_id)).first()
        if row is None or row.head is None:
            raise SessionNotFound(f"no session with id {session_id!r} (see `modelps session list`)")
        if user is None:
            if need != "viewer":
                raise PermissionDenied(f"session {session_id}: changing a session needs a user name")
            return _Access(None, int(row.head), None)
        if row.role is None:
            raise PermissionDenied(
                f"user {user!r} is not a member of session {session_id}; ask its owner to share it with them"
            )
        if _RANK[row.role] < _RANK[need]:
            action = "edit it" if need == "editor" else "share it or change its members"
            hint = "ask its owner for the editor role" if need == "editor" else "only its owner can"
            raise PermissionDenied(
                f"user {user!r} is {_article(row.role)} of session {session_id} and cannot {action}; {hint}"
            )
        return _Access(row.role, int(row.head), int(row.user_id))

    @staticmethod
    def _rows(conn: sa.Connection, session_id: str, upto: int, since: int = 0) -> dict[int, RevisionRow]:
        result = conn.execute(
            sa.select(revisions.c.number, revisions.c.kind, revisions.c.edit, revisions.c.target).where(
                revisions.c.session_id == session_id, revisions.c.number <= upto, revisions.c.number >= since
            )
        )
        return {row.number: RevisionRow.from_db(*row) for row in result}

    @staticmethod
    def _check_revision(session_id: str, revision: int, head: int) -> int:
        if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
            raise RevisionNotFound(f"session {session_id}: {revision!r} is not a revision number (0 or more)")
        if revision > head:
            raise RevisionNotFound(
                f"session {session_id}: revision {revision} is from the future; the current revision is {head}"
            )
        return revision

    def _check_expected(self, session_id: str, expected: int, head: int) -> None:
        self._check_revision(session_id, expected, head)
        if expected != head:
            raise ConflictError(session_id, expected, head)


@dataclasses.dataclass(frozen=True)
class _Access:
    role: str | None
    head: int
    user_id: int | None


class _Retryable(Exception):
    """A PostgreSQL serialization failure or deadlock: the transaction lost a race."""


def _insert_ignore(conn: sa.Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def _revision_info(row: Any) -> RevisionInfo:
    return RevisionInfo(
        revision=row["number"],
        parent=row["parent"],
        author=row["author"],
        time=row["created_at"],
        kind=row["kind"],
        edit=json.loads(row["edit"]) if row["edit"] else None,
        target=row["target"],
        message=row["message"],
    )


def _describe(rev: RevisionInfo) -> str:
    if rev.kind == "edit" and rev.edit is not None:
        params = ", ".join(f"{k}={v!r}" for k, v in rev.edit.items() if k != "op")
        return f"{rev.edit.get('op')}({params})"
    if rev.kind in ("undo", "checkout"):
        return f"{rev.kind} to revision {rev.target}"
    return rev.kind


def _article(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def _check_name(value: str, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise SessionError(f"the {what} is empty")
    if len(value) > 200 or any(ord(c) < 32 for c in value):
        raise SessionError(f"the {what} {value[:40]!r} is too long or has control characters")


def _self_contained_bytes(path: Path, model: ir.Model) -> bytes:
    """Return the file's bytes, or for a model with external data the whole model serialized in one piece."""
    proto = io.load_proto(path)
    if not any(t.data_location == onnx.TensorProto.EXTERNAL for t, _ in io.iter_tensors(proto)):
        return path.read_bytes()
    ir.external_data.load_to_model(model)
    return io.model_bytes_or_error(model)


def _validate_history(history: list[RevisionInfo], base_blob: str, load: Any) -> None:
    """Replay a bundle's history with full validation of every edit; raise on the first bad one."""
    if not history or history[0].revision != 0 or history[0].kind != "create":
        raise StoreError("the bundle's history does not start with revision 0 (create)")
    rows: dict[int, RevisionRow] = {}
    model: Model | None = load(base_blob)
    for expected, rev in enumerate(history):
        if rev.revision != expected:
            raise StoreError(f"the bundle's history jumps from revision {expected - 1} to {rev.revision}")
        if expected == 0:
            continue
        if rev.kind == "edit":
            if model is None:
                _, chain = edit_chain(rows, expected - 1)
                model, _ = replay(load(base_blob), chain)
            try:
                model.apply(parse_edit(rev.edit or {}))
            except EditError as exc:
                raise EditError(f"bundle revision {rev.revision}: {exc}", op=exc.op) from exc
        elif rev.kind in ("undo", "checkout"):
            if rev.target is None or not 0 <= rev.target < rev.revision:
                raise StoreError(f"bundle revision {rev.revision} ({rev.kind}) points at revision {rev.target}")
            model = None
        else:
            raise StoreError(f"bundle revision {rev.revision} has an unknown kind {rev.kind!r}")
        rows[rev.revision] = RevisionRow(rev.revision, rev.kind, rev.edit, rev.target)
