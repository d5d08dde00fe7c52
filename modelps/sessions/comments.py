"""Comments on a session, or on one node as seen at one revision; any member may comment."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from modelps.sessions.access import Database, check_revision, now
from modelps.sessions.errors import SessionError
from modelps.sessions.records import CommentInfo
from modelps.sessions.schema import comments, users

__all__ = ["Comments", "insert_comment"]


class Comments:
    """Adding and listing the comments of sessions."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, session_id: str, user: str, text: str, node: str | None, revision: int | None) -> CommentInfo:
        """Comment on a session, or on one node (``node``) as seen at ``revision``."""
        if not text.strip():
            raise SessionError("a comment needs some text")
        time = now()
        with self._db.write() as conn:
            access = self._db.require(conn, session_id, user, "viewer")
            if revision is not None:
                check_revision(session_id, revision, access.head)
            author_id = self._db.ensure_user(conn, user)
            comment_id = insert_comment(conn, session_id, author_id, time, text, node, revision)
        return CommentInfo(comment_id, user, time, text, node, revision)

    def list_comments(self, session_id: str, user: str | None, node: str | None) -> list[CommentInfo]:
        """Comments on a session (only those about ``node`` if given), oldest first."""
        query = (
            sa.select(comments, users.c.name.label("author"))
            .join(users, users.c.id == comments.c.author_id)
            .where(comments.c.session_id == session_id)
            .order_by(comments.c.id)
        )
        if node is not None:
            query = query.where(comments.c.node == node)
        with self._db.read() as conn:
            self._db.require(conn, session_id, user, "viewer")
            rows = conn.execute(query).mappings().all()
        return [CommentInfo(r["id"], r["author"], r["created_at"], r["text"], r["node"], r["revision"]) for r in rows]


def insert_comment(
    conn: sa.Connection,
    session_id: str,
    author_id: int,
    time: dt.datetime,
    text: str,
    node: str | None,
    revision: int | None,
) -> int:
    """Store one comment; return its id."""
    result = conn.execute(
        sa.insert(comments).values(
            session_id=session_id, author_id=author_id, created_at=time, revision=revision, node=node, text=text
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
