"""A session's linear history: reading revisions and recipes, and writing edits, undos and checkouts.

Writes are optimistic: each names the revision it was made against, the edit is validated on the
head model first, and :meth:`Revisions.commit` inserts revision ``head + 1`` only if the head has
not moved, so exactly one of several racing writers wins and the others get a
:class:`~modelps.sessions.errors.ConflictError` naming the new head. Going back (undo, checkout) adds
a revision that points at an earlier state; history is never rewritten.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from modelps.edits import Edit, edit_from_dict
from modelps.errors import EditError
from modelps.model import Model
from modelps.recipe import Recipe
from modelps.sessions import db
from modelps.sessions.access import Database, Retryable, check_expected, check_revision, now
from modelps.sessions.errors import ConflictError, RebaseError, StoreError
from modelps.sessions.records import RecipeDiff, RevisionInfo
from modelps.sessions.replay import edit_chain, undo_target
from modelps.sessions.schema import revisions, sessions, users
from modelps.sessions.storage import ModelStore

__all__ = ["EditLike", "Revisions", "insert_revision", "parse_edit"]

logger = logging.getLogger(__name__)

EditLike = Edit | Mapping[str, Any] | str
"""An edit as callers hand it in: an :class:`~modelps.edits.Edit`, a recipe-JSON dict, or JSON text."""


def parse_edit(edit: EditLike) -> Edit:
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


class Revisions:
    """Reads and writes of session histories; see the module docstring for the write protocol."""

    def __init__(self, database: Database, models: ModelStore) -> None:
        self._db = database
        self._models = models
        self._lock = threading.RLock()

    # -- reading -------------------------------------------------------------------------------

    def head(self, session_id: str, user: str | None) -> int:
        """Return the session's current revision number (one indexed query)."""
        with self._db.read() as conn:
            return self._db.require(conn, session_id, user, "viewer").head

    def log(self, session_id: str, user: str | None, since: int, limit: int | None) -> list[RevisionInfo]:
        """Revisions from ``since`` on, oldest first."""
        query = (
            sa.select(revisions, users.c.name.label("author"))
            .join(users, users.c.id == revisions.c.author_id)
            .where(revisions.c.session_id == session_id, revisions.c.number >= since)
            .order_by(revisions.c.number)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            self._db.require(conn, session_id, user, "viewer")
            rows = conn.execute(query).mappings().all()
        return [_revision_info(r) for r in rows]

    def revision(self, session_id: str, number: int, user: str | None) -> RevisionInfo:
        """One revision's record."""
        found = self.log(session_id, user, number, 1)
        if not found or found[0].revision != number:
            check_revision(session_id, number, self.head(session_id, None))
        return found[0]

    def recipe(self, session_id: str, revision: int | None, user: str | None) -> Recipe:
        """Return the recipe that rebuilds ``revision`` (default: head) from the base model, undos resolved."""
        with self._db.read() as conn:
            head = self._db.require(conn, session_id, user, "viewer").head
            base_sha = conn.execute(sa.select(sessions.c.base_sha256).where(sessions.c.id == session_id)).scalar_one()
            number = head if revision is None else check_revision(session_id, revision, head)
            rows = self._db.revision_rows(conn, session_id, number)
        _, chain = edit_chain(rows, number)
        return Recipe(tuple(edit_from_dict(row.edit or {}) for row in chain), base_sha)

    def diff(self, session_id: str, a: int, b: int, user: str | None) -> RecipeDiff:
        """How the recipes of revisions ``a`` and ``b`` differ."""
        left = [e.to_dict() for e in self.recipe(session_id, a, user).edits]
        right = [e.to_dict() for e in self.recipe(session_id, b, user).edits]
        common = 0
        while common < min(len(left), len(right)) and left[common] == right[common]:
            common += 1
        return RecipeDiff(a, b, common, left[common:], right[common:])

    # -- writing -------------------------------------------------------------------------------

    def apply(self, session_id: str, user: str, edit: Edit, expect: int, message: str | None) -> RevisionInfo:
        """Validate ``edit`` on the head model and store it as the next revision if the head is ``expect``."""
        with self._lock, db.session_lock(self._db.engine, session_id):
            with self._db.read() as conn:
                head = self._db.require(conn, session_id, user, "editor").head
            check_expected(session_id, expect, head)
            model = self._models.working_model(session_id, head)
            try:
                model.apply(edit)
            except BaseException:
                self._models.cache_put(session_id, head, model)
                raise
            try:
                info = self.commit(session_id, user, head, kind="edit", edit=edit.to_dict(), message=message)
            except BaseException:
                model.undo()
                self._models.cache_put(session_id, head, model)
                raise
            self._models.cache_put(session_id, info.revision, Model(model.ir, validation=model.validation))
        logger.info("session %s: revision %d by %s: %s", session_id, info.revision, user, edit.describe())
        return info

    def rebase(
        self, session_id: str, user: str, edit: Edit, made_against: int, message: str | None, attempts: int
    ) -> RevisionInfo:
        """Replay an edit made against an older revision on the current head, if it still applies."""
        last: ConflictError | None = None
        for _ in range(attempts):
            head = self.head(session_id, user)
            check_revision(session_id, made_against, head)
            try:
                return self.apply(session_id, user, edit, head, message)
            except ConflictError as exc:
                last = exc
            except EditError as exc:
                since = self.log(session_id, user, made_against + 1, None)
                changes = "; ".join(f"r{r.revision} by {r.author}: {_describe(r)}" for r in since) or "none"
                raise RebaseError(
                    f"session {session_id}: your edit {edit.describe()} (made against revision {made_against}) "
                    f"no longer applies on revision {head}: {exc}. Changes since: {changes}"
                ) from exc
        assert last is not None
        raise last

    def revert(
        self, session_id: str, user: str, to: int | None, expect: int | None, message: str | None
    ) -> RevisionInfo:
        """Add a revision equal to revision ``to``, or (``to=None``) one that undoes the latest change."""
        kind = "undo" if to is None else "checkout"
        for _ in range(10):
            with self._lock, db.session_lock(self._db.engine, session_id):
                with self._db.read() as conn:
                    head = self._db.require(conn, session_id, user, "editor").head
                    rows = self._db.revision_rows(conn, session_id, head)
                if expect is not None:
                    check_expected(session_id, expect, head)
                if to is None:
                    target = undo_target(rows, head)
                    marker: dict[str, Any] = {"op": "undo", "reverts": target + 1, "to": target}
                else:
                    target = check_revision(session_id, to, head)
                    marker = {"op": "checkout", "to": target}
                try:
                    return self.commit(session_id, user, head, kind=kind, edit=marker, target=target, message=message)
                except ConflictError:
                    if expect is not None:
                        raise
        raise StoreError(f"session {session_id}: too many concurrent writers; {kind} did not get through")

    def commit(
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
        info = RevisionInfo(head + 1, head, user, now(), kind, dict(edit) if edit else None, target, message)
        try:
            with self._db.write() as conn:
                access = self._db.require(conn, session_id, user, "editor")
                if access.head != head:
                    raise ConflictError(session_id, head, access.head)
                assert access.user_id is not None
                insert_revision(conn, session_id, info, access.user_id)
        except (sa.exc.IntegrityError, Retryable):
            raise ConflictError(session_id, head, self.head(session_id, None)) from None
        return info


def insert_revision(conn: sa.Connection, session_id: str, rev: RevisionInfo, author_id: int) -> None:
    """Store the revision record ``rev`` of a session (the caller has checked that it is the next one)."""
    conn.execute(
        sa.insert(revisions).values(
            session_id=session_id,
            number=rev.revision,
            parent=rev.parent,
            author_id=author_id,
            created_at=rev.time,
            kind=rev.kind,
            edit=json.dumps(rev.edit, sort_keys=True) if rev.edit is not None else None,
            target=rev.target,
            message=rev.message,
        )
    )


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
