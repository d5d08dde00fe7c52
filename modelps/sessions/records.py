"""Plain records the store returns: sessions, revisions, comments, recipe diffs (all JSON-ready)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

__all__ = ["CommentInfo", "RecipeDiff", "RevisionInfo", "SessionInfo"]


def _iso(time: dt.datetime) -> str:
    if time.tzinfo is None:  # SQLite hands back naive datetimes; the store writes UTC
        time = time.replace(tzinfo=dt.UTC)
    return time.isoformat()


@dataclasses.dataclass(frozen=True)
class SessionInfo:
    """A session: its id, name, base model hash, owner, creation time and current head revision."""

    id: str
    name: str
    base_sha256: str
    owner: str
    created: dt.datetime
    head: int
    role: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``created`` as ISO 8601)."""
        data = dataclasses.asdict(self)
        data["created"] = _iso(self.created)
        return data


@dataclasses.dataclass(frozen=True)
class RevisionInfo:
    """One revision of a session.

    ``kind`` is ``create`` (revision 0, the base model), ``edit`` (``edit`` holds the recipe edit),
    ``undo`` or ``checkout`` (the model equals revision ``target``; ``edit`` holds a marker such as
    ``{"op": "undo", "reverts": 5, "to": 4}``).
    """

    revision: int
    parent: int | None
    author: str
    time: dt.datetime
    kind: str
    edit: dict[str, Any] | None
    target: int | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``time`` as ISO 8601)."""
        data = dataclasses.asdict(self)
        data["time"] = _iso(self.time)
        return data


@dataclasses.dataclass(frozen=True)
class CommentInfo:
    """A comment on a session, optionally about one node and/or made at one revision."""

    id: int
    author: str
    time: dt.datetime
    text: str
    node: str | None = None
    revision: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``time`` as ISO 8601)."""
        data = dataclasses.asdict(self)
        data["time"] = _iso(self.time)
        return data


@dataclasses.dataclass(frozen=True)
class RecipeDiff:
    """How the effective recipes of two revisions differ.

    Going from revision ``a`` to ``b`` means undoing ``only_a`` (newest first) and applying ``only_b``;
    the first ``common`` edits are shared.
    """

    a: int
    b: int
    common: int
    only_a: list[dict[str, Any]]
    only_b: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)
