"""The Share page's logic over ``modelps.sessions``: open, create, members and roles."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from editor_ui.actions import Outcome
from editor_ui.panels.availability import sessions_available
from editor_ui.workspace import Workspace
from modelps.errors import ModelPSError

__all__ = ["grant", "member_rows", "open_session", "share_link", "share_workspace"]


def open_session(session_id: str, *, user: str) -> tuple[Outcome, Workspace | None]:
    """Open shared session ``session_id`` as ``user``."""
    if not sessions_available():
        return Outcome(False, "Shared sessions are not installed here."), None
    from editor_ui import shared

    try:
        ws = shared.SessionWorkspace.open(session_id, user=user)
    except ModelPSError as exc:
        return Outcome(False, f"Cannot open session {session_id}: {exc}"), None
    return Outcome(True, f"Opened shared session {session_id} at revision {ws.revision}"), ws


def share_workspace(ws: Workspace) -> tuple[Outcome, Workspace | None]:
    """Create a shared session from a local workspace (its base model and its edits so far)."""
    from editor_ui import shared

    try:
        new = shared.SessionWorkspace.create_from(ws)
    except ModelPSError as exc:
        return Outcome(False, f"Cannot share: {exc}"), None
    return Outcome(True, f"Shared as session {new.session_id}"), new


def member_rows(ws: Workspace) -> list[dict[str, Any]]:
    """Return the session's members and roles."""
    from editor_ui import shared

    return shared.members(ws) if isinstance(ws, shared.SessionWorkspace) else []


def grant(ws: Workspace, user: str, role: str) -> Outcome:
    """Give ``user`` a ``role`` in the session."""
    from editor_ui import shared

    if not isinstance(ws, shared.SessionWorkspace):
        return Outcome(False, "Share the model first.")
    try:
        shared.grant(ws, user, role)
    except ModelPSError as exc:
        return Outcome(False, f"Cannot grant: {exc}")
    return Outcome(True, f"{user} is now {role}")


def share_link(page_url: str | None, session_id: str) -> str:
    """The full link that opens ``session_id``: this page's address with ``?session=ID`` as its only query.

    >>> share_link("http://10.0.0.5:8501/?session=old&x=1#top", "abc123")
    'http://10.0.0.5:8501/?session=abc123'
    >>> share_link(None, "abc123")
    'http://localhost:8501/?session=abc123'
    """
    parts = urlsplit(page_url or "http://localhost:8501/")
    return urlunsplit((parts.scheme or "http", parts.netloc, parts.path or "/", urlencode({"session": session_id}), ""))
