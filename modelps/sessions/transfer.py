"""Importing a session bundle into a store: a new session with the bundle's history, every edit validated.

(:func:`modelps.sessions.bundle.write_bundle` writes bundles from a store's public reads; see
:meth:`~modelps.sessions.SessionStore.export_bundle`.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from modelps.errors import EditError, ValidationError
from modelps.model import Model
from modelps.sessions import bundle
from modelps.sessions.access import Database, check_name, now
from modelps.sessions.comments import insert_comment
from modelps.sessions.errors import StoreError
from modelps.sessions.members import insert_session
from modelps.sessions.records import RevisionInfo, SessionInfo
from modelps.sessions.replay import RevisionRow, edit_chain, replay
from modelps.sessions.revisions import insert_revision, parse_edit
from modelps.sessions.storage import ModelStore
from modelps.validate import validate

__all__ = ["import_bundle"]

logger = logging.getLogger(__name__)


def import_bundle(
    database: Database, models: ModelStore, path: str | os.PathLike[str], user: str, name: str | None
) -> SessionInfo:
    """Create a new session, owned by ``user``, from a bundle; all or nothing.

    Raises:
        StoreError: The file is not a ModelPS session bundle or is damaged.
        EditError: An edit in the bundle fails validation (nothing is imported).
    """
    check_name(user, "user name")
    content = bundle.read_bundle(path)
    base_blob = models.put_base(content.base)
    base = models.load(base_blob)
    try:
        validate(base.ir, "full")
    except ValidationError as exc:
        raise StoreError(f"{path}: the bundle's base model fails validation: {exc}") from exc
    _validate_history(content.history, base_blob, models.load)
    time = now()
    with database.write() as conn:
        session_id, _ = insert_session(conn, database, name or content.name, content.base_sha256, base_blob, user, time)
        for rev in content.history:
            insert_revision(conn, session_id, rev, database.ensure_user(conn, rev.author))
        for note in content.notes:
            author_id = database.ensure_user(conn, note.author)
            insert_comment(conn, session_id, author_id, note.time, note.text, note.node, note.revision)
    head = content.history[-1].revision
    logger.info("imported %s as session %s (%d revisions) for %s", path, session_id, head, user)
    return SessionInfo(session_id, name or content.name, content.base_sha256, user, time, head, "owner")


def _validate_history(history: list[RevisionInfo], base_blob: str, load: Callable[[str], Model]) -> None:
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
