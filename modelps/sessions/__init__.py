"""Shared edit sessions: a team edits one model together, with history, roles and nothing lost.

A :class:`SessionStore` keeps sessions in SQLite (default: ``$MODELPS_HOME/sessions.db``, WAL) or
PostgreSQL (``postgresql+psycopg://...`` via ``MODELPS_DB`` or the ``url`` argument); model files
live once, content-addressed, in a blob folder. Writes are optimistic: every edit names the revision
it was made against, and a moved head is a :class:`ConflictError` naming the current revision.

Example::

    store = SessionStore()                      # or SessionStore("postgresql://...")
    s = store.create_session("model.onnx", name="reid", user="ann")
    store.share(s.id, "ann", grant="bob", role="editor")
    rev = store.apply(s.id, "bob", {"op": "add_output", "tensor": "feat"}, expect_revision=0)
    model = store.materialize(s.id)             # a modelps.Model at the head
"""

from __future__ import annotations

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
from modelps.sessions.store import SessionStore, parse_edit

__all__ = [
    "CommentInfo",
    "ConflictError",
    "PermissionDenied",
    "RebaseError",
    "RecipeDiff",
    "RevisionInfo",
    "RevisionNotFound",
    "SessionError",
    "SessionInfo",
    "SessionNotFound",
    "SessionStore",
    "StoreError",
    "parse_edit",
]
