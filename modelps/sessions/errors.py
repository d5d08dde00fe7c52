"""Errors raised by the session store; all are :class:`~modelps.errors.ModelPSError` subclasses."""

from __future__ import annotations

from modelps.errors import ModelPSError

__all__ = [
    "ConflictError",
    "PermissionDenied",
    "RebaseError",
    "RevisionNotFound",
    "SessionError",
    "SessionNotFound",
    "StoreError",
]


class SessionError(ModelPSError):
    """Base class of the session store's errors."""


class StoreError(SessionError):
    """The store cannot be opened or used (bad URL, unreachable server, busy database, damaged bundle)."""


class SessionNotFound(SessionError):
    """No session has the given id."""


class RevisionNotFound(SessionError):
    """A revision number that the session does not have (negative, or from the future)."""


class PermissionDenied(SessionError):
    """The user's role in the session does not allow the operation (or the user is not a member)."""


class ConflictError(SessionError):
    """The session moved on since the revision an edit was made against.

    Attributes:
        expected: The revision the writer said its edit was made against.
        current: The session's head revision now.
    """

    def __init__(self, session_id: str, expected: int, current: int) -> None:
        self.session_id = session_id
        self.expected = expected
        self.current = current
        super().__init__(
            f"session {session_id}: conflict, the change was made against revision {expected} "
            f"but the current revision is {current}; reload (or rebase) and try again"
        )


class RebaseError(SessionError):
    """An edit cannot be replayed on the session's new head; the message says why."""
