"""Sessions and their members: create, list and look up sessions; share and revoke roles.

A session belongs to the user who creates it (its owner); only the owner shares it with others, as
``editor`` or ``viewer``, and the owner's own role never changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from pathlib import Path

import sqlalchemy as sa

from modelps import io
from modelps.errors import ValidationError
from modelps.model import Model
from modelps.sessions.access import Database, check_name, now
from modelps.sessions.errors import SessionError
from modelps.sessions.records import RevisionInfo, SessionInfo
from modelps.sessions.revisions import insert_revision
from modelps.sessions.schema import members, revisions, sessions, users
from modelps.sessions.storage import ModelStore, self_contained_bytes
from modelps.validate import validate

__all__ = ["Members", "insert_session"]

logger = logging.getLogger(__name__)


class Members:
    """Sessions and who may do what in them."""

    def __init__(self, database: Database, models: ModelStore) -> None:
        self._db = database
        self._models = models

    def create_session(self, model: str | os.PathLike[str], name: str, user: str) -> SessionInfo:
        """Start a session on the model file ``model``, owned by ``user`` (revision 0 is the base model)."""
        check_name(user, "user name")
        check_name(name, "session name")
        path = Path(model)
        base = Model.load(path)
        try:
            validate(base.ir, "full")
        except ValidationError as exc:
            raise ValidationError(f"{path}: the base model fails validation: {exc}") from exc
        base_sha = io.file_sha256(path)
        blob = self._models.put_base(self_contained_bytes(path, base.ir))
        time = now()
        with self._db.write() as conn:
            session_id, owner_id = insert_session(conn, self._db, name, base_sha, blob, user, time)
            insert_revision(conn, session_id, RevisionInfo(0, None, user, time, "create", None), owner_id)
        logger.info("created session %s (%s) on %s for %s", session_id, name, path, user)
        return SessionInfo(session_id, name, base_sha, user, time, 0, "owner")

    def list_sessions(self, user: str | None) -> list[SessionInfo]:
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
        with self._db.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            SessionInfo(
                r["id"], r["name"], r["base_sha256"], r["owner_name"], r["created_at"], r["head"], r.get("role")
            )
            for r in rows
        ]

    def get_session(self, session_id: str, user: str | None) -> SessionInfo:
        """One session's record (``role`` is ``user``'s role)."""
        with self._db.read() as conn:
            access = self._db.require(conn, session_id, user, "viewer")
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

    def roles(self, session_id: str, user: str | None) -> dict[str, str]:
        """Members of a session and their roles, ``{name: role}``."""
        with self._db.read() as conn:
            self._db.require(conn, session_id, user, "viewer")
            rows = conn.execute(
                sa.select(users.c.name, members.c.role)
                .join(users, users.c.id == members.c.user_id)
                .where(members.c.session_id == session_id)
                .order_by(users.c.name)
            ).all()
        return {name: role for name, role in rows}

    def share(self, session_id: str, user: str, grant: str, role: str) -> None:
        """Give ``grant`` the ``role`` (``editor`` or ``viewer``) in a session; only its owner may."""
        if role not in ("editor", "viewer"):
            raise SessionError(f"role {role!r} cannot be granted; choose 'editor' or 'viewer'")
        check_name(grant, "user name")
        with self._db.write() as conn:
            self._db.require(conn, session_id, user, "owner")
            grant_id = self._db.ensure_user(conn, grant)
            current = self._db.role_of(conn, session_id, grant_id)
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
        with self._db.write() as conn:
            self._db.require(conn, session_id, user, "owner")
            member_id = self._db.user_id(conn, member)
            role = None if member_id is None else self._db.role_of(conn, session_id, member_id)
            if role is None:
                raise SessionError(f"{member!r} is not a member of session {session_id}")
            if role == "owner":
                raise SessionError(f"{member!r} owns session {session_id} and cannot be removed")
            conn.execute(sa.delete(members).where(members.c.session_id == session_id, members.c.user_id == member_id))


def insert_session(
    conn: sa.Connection, database: Database, name: str, base_sha: str, blob: str, owner: str, time: dt.datetime
) -> tuple[str, int]:
    """Store a new session record owned by ``owner`` (its history comes next); return its id and the owner's id."""
    session_id = uuid.uuid4().hex[:12]
    owner_id = database.ensure_user(conn, owner)
    conn.execute(
        sa.insert(sessions).values(
            id=session_id, name=name, base_sha256=base_sha, base_blob=blob, owner_id=owner_id, created_at=time
        )
    )
    conn.execute(sa.insert(members).values(session_id=session_id, user_id=owner_id, role="owner"))
    return session_id, owner_id
