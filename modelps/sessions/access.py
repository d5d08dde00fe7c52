"""Reaching the session database and checking who may do what: transactions, users and roles.

Every store operation runs in a read or write transaction from :class:`Database`, and checks access
with one query (:meth:`Database.require`): the session exists, the user holds at least the role the
operation needs, and the head revision comes back with the answer. Roles rank
``viewer < editor < owner``; ``user=None`` is the local administrator, who may read everything and
change nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from modelps.errors import first_line
from modelps.sessions import db
from modelps.sessions.errors import (
    ConflictError,
    PermissionDenied,
    RevisionNotFound,
    SessionError,
    SessionNotFound,
    StoreError,
)
from modelps.sessions.replay import RevisionRow
from modelps.sessions.schema import members, revisions, sessions, users

__all__ = ["Access", "Database", "Retryable", "check_expected", "check_name", "check_revision", "now"]

_RANK = {"viewer": 1, "editor": 2, "owner": 3}
_RETRYABLE_SQLSTATES = ("40001", "40P01")  # PostgreSQL serialization failure, deadlock


def now() -> dt.datetime:
    """The time stamp the store writes: now, in UTC."""
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass(frozen=True)
class Access:
    """What :meth:`Database.require` found: the user's role and id (``None`` for the administrator), the head."""

    role: str | None
    head: int
    user_id: int | None


class Retryable(Exception):
    """A PostgreSQL serialization failure or deadlock: the transaction lost a race."""


class Database:
    """The store's database (migrated on open): transactions with readable errors, users and access checks."""

    def __init__(self, url: str | os.PathLike[str] | None) -> None:
        self.url = db.resolve_url(url)
        self.engine = db.create_engine(self.url)
        # PostgreSQL reads run in autocommit: one round trip per query instead of BEGIN/query/COMMIT
        self._reader = (
            self.engine if db.is_sqlite(self.engine) else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        with self.errors("open"):
            db.upgrade(self.engine)

    def where(self) -> str:
        """The database URL with any password hidden."""
        return sa.make_url(self.url).render_as_string(hide_password=True)

    @contextlib.contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn a database failure into a :class:`StoreError` (or :class:`Retryable` for a lost race)."""
        try:
            yield
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
                raise Retryable() from exc
            text = first_line(exc.orig, 1) if exc.orig else str(exc)
            if "locked" in text:
                text += f" (another writer held it for over {db.BUSY_TIMEOUT_S:.0f} s)"
            raise StoreError(f"session store {self.where()}: cannot {action}: {text}") from exc

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction."""
        with self.errors("read"), self._reader.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction (serialised against other writers, see :func:`db.write_transaction`)."""
        with self.errors("write"), db.write_transaction(self.engine) as conn:
            yield conn

    def ensure_user(self, conn: sa.Connection, name: str) -> int:
        """Return the id of user ``name``, adding the user on first sight."""
        found = self.user_id(conn, name)
        if found is not None:
            return found
        insert = _insert_ignore(conn, users).values(name=name, created_at=now())
        conn.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
        found = self.user_id(conn, name)
        assert found is not None
        return found

    @staticmethod
    def user_id(conn: sa.Connection, name: str) -> int | None:
        """The id of user ``name``, or ``None`` if the store has never seen them."""
        return conn.execute(sa.select(users.c.id).where(users.c.name == name)).scalar()

    @staticmethod
    def role_of(conn: sa.Connection, session_id: str, user_id: int) -> str | None:
        """The role of a user in a session, or ``None`` if they are not a member."""
        return conn.execute(
            sa.select(members.c.role).where(members.c.session_id == session_id, members.c.user_id == user_id)
        ).scalar()

    def require(self, conn: sa.Connection, session_id: str, user: str | None, need: str) -> Access:
        """Check in one query that the session exists and ``user`` holds at least role ``need``.

        Returns the user's role (``None`` for the administrator, ``user=None``) and the head revision.

        Raises:
            SessionNotFound: No such session.
            PermissionDenied: ``user`` is not a member, or holds a lesser role.
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
            return Access(None, int(row.head), None)
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
        return Access(row.role, int(row.head), int(row.user_id))

    @staticmethod
    def revision_rows(conn: sa.Connection, session_id: str, upto: int, since: int = 0) -> dict[int, RevisionRow]:
        """The stored revisions ``since..upto`` of a session, as replay reads them."""
        result = conn.execute(
            sa.select(revisions.c.number, revisions.c.kind, revisions.c.edit, revisions.c.target).where(
                revisions.c.session_id == session_id, revisions.c.number <= upto, revisions.c.number >= since
            )
        )
        return {row.number: RevisionRow.from_db(*row) for row in result}

    @staticmethod
    def base_blob(conn: sa.Connection, session_id: str) -> str:
        """The blob hash of a session's base model."""
        return conn.execute(sa.select(sessions.c.base_blob).where(sessions.c.id == session_id)).scalar_one()


def check_name(value: str, what: str) -> None:
    """Refuse an empty user or session name, or one that is too long or has control characters."""
    if not isinstance(value, str) or not value.strip():
        raise SessionError(f"the {what} is empty")
    if len(value) > 200 or any(ord(c) < 32 for c in value):
        raise SessionError(f"the {what} {value[:40]!r} is too long or has control characters")


def check_revision(session_id: str, revision: int, head: int) -> int:
    """Return ``revision`` if the session has it (0 to ``head``), else raise :class:`RevisionNotFound`."""
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        raise RevisionNotFound(f"session {session_id}: {revision!r} is not a revision number (0 or more)")
    if revision > head:
        raise RevisionNotFound(
            f"session {session_id}: revision {revision} is from the future; the current revision is {head}"
        )
    return revision


def check_expected(session_id: str, expected: int, head: int) -> None:
    """Raise :class:`ConflictError` unless the revision a write was made against is still the head."""
    check_revision(session_id, expected, head)
    if expected != head:
        raise ConflictError(session_id, expected, head)


def _article(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def _insert_ignore(conn: sa.Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)
