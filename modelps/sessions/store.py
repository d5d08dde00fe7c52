"""The session store: shared edit sessions with linear history, roles and optimistic writes.

:class:`SessionStore` is the one entry point; each of its parts lives in its own module:

* :mod:`~modelps.sessions.access`: transactions, users and the role check every operation runs;
* :mod:`~modelps.sessions.members`: sessions and their members (create, list, share, revoke);
* :mod:`~modelps.sessions.revisions`: history reads and the optimistic writes (apply, rebase, undo, checkout);
* :mod:`~modelps.sessions.storage`: blobs, snapshots and the head-model cache;
* :mod:`~modelps.sessions.comments` and :mod:`~modelps.sessions.transfer`: comments and bundle import.

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

import os
from pathlib import Path

import sqlalchemy as sa

from modelps.model import Model
from modelps.recipe import Recipe
from modelps.sessions import bundle, db, transfer
from modelps.sessions.access import Database
from modelps.sessions.blobs import BlobStore
from modelps.sessions.comments import Comments
from modelps.sessions.members import Members
from modelps.sessions.records import CommentInfo, RecipeDiff, RevisionInfo, SessionInfo
from modelps.sessions.revisions import EditLike, Revisions, parse_edit
from modelps.sessions.storage import ModelStore

__all__ = ["SessionStore", "parse_edit"]


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
        self._db = Database(url)
        self._models = ModelStore(
            self._db,
            blob_dir or os.environ.get("MODELPS_BLOBS") or db.default_home() / "blobs",
            snapshot_after_s=snapshot_after_s,
            cache_size=cache_size,
            blobs_in_db=not db.is_sqlite(self._db.engine) if blobs_in_db is None else blobs_in_db,
        )
        self._members = Members(self._db, self._models)
        self._revisions = Revisions(self._db, self._models)
        self._comments = Comments(self._db)

    @property
    def url(self) -> str:
        """The database URL."""
        return self._db.url

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine of the database."""
        return self._db.engine

    @property
    def blobs(self) -> BlobStore:
        """The blob folder."""
        return self._models.blobs

    @property
    def blobs_in_db(self) -> bool:
        """Whether base models are kept in the database too."""
        return self._models.blobs_in_db

    @property
    def snapshot_after_s(self) -> float:
        """Store a snapshot of a revision whose replay took longer than this (seconds)."""
        return self._models.snapshot_after_s

    @snapshot_after_s.setter
    def snapshot_after_s(self, seconds: float) -> None:
        self._models.snapshot_after_s = seconds

    def close(self) -> None:
        """Finish background snapshots, then release database connections and cached models."""
        self._models.close()
        self._db.engine.dispose()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SessionStore({self._db.where()!r})"

    # -- sessions and members -------------------------------------------------------------------

    def create_session(self, model: str | os.PathLike[str], *, name: str, user: str) -> SessionInfo:
        """Start a session on the model file ``model``, owned by ``user`` (revision 0 is the base model).

        Raises:
            ModelLoadError: The file is not a readable, safe ONNX model.
            ValidationError: The base model fails validation, so no edit could ever be stored.
        """
        return self._members.create_session(model, name, user)

    def list_sessions(self, user: str | None = None) -> list[SessionInfo]:
        """Sessions ``user`` is a member of (every session for ``user=None``), newest first."""
        return self._members.list_sessions(user)

    def get_session(self, session_id: str, user: str | None = None) -> SessionInfo:
        """One session's record (``role`` is ``user``'s role).

        Raises:
            SessionNotFound: No such session.
            PermissionDenied: ``user`` is not a member.
        """
        return self._members.get_session(session_id, user)

    def members(self, session_id: str, user: str | None = None) -> dict[str, str]:
        """Members of a session and their roles, ``{name: role}``."""
        return self._members.roles(session_id, user)

    def share(self, session_id: str, user: str, grant: str, role: str) -> None:
        """Give ``grant`` the ``role`` (``editor`` or ``viewer``) in a session; only its owner may.

        Raises:
            PermissionDenied: ``user`` is not the owner.
            SessionError: The role is not ``editor``/``viewer``, or ``grant`` is the owner.
        """
        self._members.share(session_id, user, grant, role)

    def revoke(self, session_id: str, user: str, member: str) -> None:
        """Remove ``member`` from a session; only its owner may, and the owner cannot be removed."""
        self._members.revoke(session_id, user, member)

    # -- history ---------------------------------------------------------------------------------

    def head(self, session_id: str, user: str | None = None) -> int:
        """Return the session's current revision number (one indexed query: cheap enough to poll).

        Raises:
            SessionNotFound: No such session.
        """
        return self._revisions.head(session_id, user)

    def log(
        self, session_id: str, user: str | None = None, *, since: int = 0, limit: int | None = None
    ) -> list[RevisionInfo]:
        """Revisions from ``since`` on, oldest first (revision 0 is the session's creation)."""
        return self._revisions.log(session_id, user, since, limit)

    def revision(self, session_id: str, number: int, user: str | None = None) -> RevisionInfo:
        """One revision's record.

        Raises:
            RevisionNotFound: The session has no revision ``number``.
        """
        return self._revisions.revision(session_id, number, user)

    def recipe(self, session_id: str, revision: int | None = None, user: str | None = None) -> Recipe:
        """Return the recipe that rebuilds ``revision`` (default: head) from the base model, undos resolved."""
        return self._revisions.recipe(session_id, revision, user)

    def diff(self, session_id: str, a: int, b: int, user: str | None = None) -> RecipeDiff:
        """How the recipes of revisions ``a`` and ``b`` differ (see :class:`RecipeDiff`)."""
        return self._revisions.diff(session_id, a, b, user)

    # -- writes ----------------------------------------------------------------------------------

    def apply(
        self, session_id: str, user: str, edit: EditLike, *, expect_revision: int, message: str | None = None
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
        return self._revisions.apply(session_id, user, parse_edit(edit), expect_revision, message)

    def rebase(
        self,
        session_id: str,
        user: str,
        edit: EditLike,
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
        return self._revisions.rebase(session_id, user, parse_edit(edit), made_against, message, attempts)

    def undo(
        self, session_id: str, user: str, *, expect_revision: int | None = None, message: str | None = None
    ) -> RevisionInfo:
        """Add a revision that reverts the latest change still in effect (history is kept).

        Repeated undos walk back through the edits. With ``expect_revision`` a moved head is a
        :class:`ConflictError`; without it the undo applies to whatever the head is.

        Raises:
            SessionError: Nothing left to undo.
        """
        return self._revisions.revert(session_id, user, None, expect_revision, message)

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
        return self._revisions.revert(session_id, user, revision, expect_revision, message)

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
        return self._models.materialize(session_id, revision, user)

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
        return self._models.base_bytes(session_id, user)

    def wait_for_snapshots(self, timeout: float | None = None) -> None:
        """Wait until the snapshots being written in the background are stored."""
        self._models.wait_for_snapshots(timeout)

    # -- comments --------------------------------------------------------------------------------

    def add_comment(
        self, session_id: str, user: str, text: str, *, node: str | None = None, revision: int | None = None
    ) -> CommentInfo:
        """Comment on a session, or on one node (``node``) as seen at ``revision``; any member may."""
        return self._comments.add(session_id, user, text, node, revision)

    def comments(self, session_id: str, user: str | None = None, *, node: str | None = None) -> list[CommentInfo]:
        """Comments on a session (only those about ``node`` if given), oldest first."""
        return self._comments.list_comments(session_id, user, node)

    # -- bundles ---------------------------------------------------------------------------------

    def export_bundle(self, session_id: str, path: str | os.PathLike[str], user: str | None = None) -> Path:
        """Write the session (base model, history, recipe, comments) as one zip file."""
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
        return transfer.import_bundle(self._db, self._models, path, user, name)
