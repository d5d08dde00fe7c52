"""A workspace backed by a shared session in :class:`modelps.sessions.SessionStore`.

Every edit is a revision with its author. Edits are written optimistically against the revision
this tab shows; when someone else got there first, the edit is rebased onto the new head if it still
applies, and refused with the store's explanation (what changed since, by whom) if it does not, so
nothing is lost silently. :meth:`SessionWorkspace.refresh` picks up others' revisions; the page polls it.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import onnx_ir as ir

from editor_ui.workspace import HistoryEntry, Workspace, home
from modelps.errors import EditError
from modelps.model import Model
from modelps.recipe import Recipe
from modelps.sessions import ConflictError, RevisionInfo, SessionStore

__all__ = ["SessionWorkspace", "grant", "members", "store"]


@functools.lru_cache(maxsize=4)
def _store_for(db: str | None, home_dir: str) -> SessionStore:
    return SessionStore(db)


def store() -> SessionStore:
    """Return this process's session store (``MODELPS_DB``, else SQLite under ``MODELPS_HOME``)."""
    return _store_for(os.environ.get("MODELPS_DB") or None, str(home()))


def _entry(rev: RevisionInfo) -> HistoryEntry:
    return HistoryEntry(rev.revision, rev.author, rev.time.timestamp(), dict(rev.edit or {}), rev.message or "")


class SessionWorkspace(Workspace):
    """A shared session seen by one user; the model shown is the revision last loaded."""

    def __init__(self, session_id: str, *, user: str) -> None:
        self.session_id = session_id
        self.user = user
        info = store().get_session(session_id, user)
        self.name = info.name
        self.role = info.role
        self._head = -1
        self._model: Model
        self._log: list[RevisionInfo] = []
        self.refresh()

    @classmethod
    def open(cls, session_id: str, *, user: str) -> SessionWorkspace:
        """Open session ``session_id`` as ``user`` (who must be a member).

        Raises:
            SessionNotFound: No such session.
            PermissionDenied: ``user`` is not a member.
        """
        return cls(session_id, user=user)

    @classmethod
    def create_from(cls, ws: Workspace) -> SessionWorkspace:
        """Start a session owned by ``ws.user`` on ``ws``'s base model, with ``ws``'s edits as revisions."""
        info = store().create_session(ws.base_path(), name=_session_name(ws.name), user=ws.user)
        for revision, entry in enumerate(ws.history()):
            store().apply(info.id, ws.user, entry.edit, expect_revision=revision)
        return cls(info.id, user=ws.user)

    @property
    def model(self) -> Model:
        """The model at the current revision."""
        return self._model

    @property
    def revision(self) -> int:
        """The revision shown (0 = the base model)."""
        return self._head

    def history(self) -> list[HistoryEntry]:
        """Every revision, oldest first."""
        return [_entry(rev) for rev in self._log if rev.revision > 0]

    def refresh(self) -> bool:
        """Load the head if someone moved it; returns whether anything changed."""
        assert self.session_id is not None
        head = store().head(self.session_id, self.user)
        if head == self._head:
            return False
        model = store().materialize(self.session_id, head, self.user)
        with self.lock:
            self._model = model
        self._log = store().log(self.session_id, self.user)
        self._head = head
        return True

    def apply(self, edit: dict[str, Any]) -> HistoryEntry:
        """Store ``edit`` as the next revision; rebase it if others edited meanwhile.

        Raises:
            EditError: The edit is refused (invalid, or no longer applies after others' edits).
            RebaseError: The session moved on and the edit does not apply to the new head.
            PermissionDenied: This user is a viewer.
        """
        assert self.session_id is not None
        made_against = self._head
        try:
            rev = store().apply(self.session_id, self.user, edit, expect_revision=made_against)
        except ConflictError:
            rev = store().rebase(
                self.session_id,
                self.user,
                edit,
                made_against=made_against,
                message=f"rebased from revision {made_against}",
            )
        if rev.revision == made_against + 1:
            with self.lock:
                self._model.apply(rev.edit or edit, validation="none")  # the store validated it
            self._log.append(rev)
            self._head = rev.revision
        else:
            self.refresh()
        return _entry(rev)

    def undo(self) -> HistoryEntry | None:
        """Add a revision reverting the latest change still in effect.

        Raises:
            ConflictError: Someone else edited meanwhile; the view is refreshed so the user sees
                what they would undo before trying again.
        """
        assert self.session_id is not None
        try:
            rev = store().undo(self.session_id, self.user, expect_revision=self._head)
        except ConflictError:
            self.refresh()
            raise
        self.refresh()
        return _entry(rev)

    def can_redo(self) -> bool:
        """Return whether :meth:`redo` has something to do."""
        return bool(self._log) and self._log[-1].kind == "undo"

    def redo(self) -> HistoryEntry | None:
        """Re-apply the edit that the latest revision (an undo) reverted, as a new revision."""
        if not self.can_redo():
            raise EditError("nothing to redo")
        marker = self._log[-1].edit or {}
        reverted = next((r for r in self._log if r.revision == marker.get("reverts")), None)
        if reverted is None or reverted.kind != "edit" or not reverted.edit:
            raise EditError("nothing to redo: the undone revision was not an edit")
        return self.apply(dict(reverted.edit))

    def base_path(self) -> Path:
        """Return the base model file."""
        assert self.session_id is not None
        data = store().base_bytes(self.session_id, self.user)
        folder = home() / "models"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self._model.base_sha256 or self.session_id}.onnx"
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return path

    def recipe(self, revision: int | None = None) -> Recipe:
        """Return the recipe from the base to ``revision`` (default: the current one)."""
        assert self.session_id is not None
        return store().recipe(self.session_id, self._head if revision is None else revision, self.user)

    def materialize(self, revision: int) -> ir.Model:
        """Return the model as it was at ``revision``."""
        assert self.session_id is not None
        if not 0 <= revision <= self._head:
            raise EditError(f"revision {revision} does not exist (the latest is {self._head})")
        if revision == self._head:
            return self._model.ir
        return store().materialize(self.session_id, revision, self.user).ir


def _session_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.") or "model"


def members(ws: SessionWorkspace) -> list[dict[str, str]]:
    """Return the session's members and roles as table rows."""
    assert ws.session_id is not None
    return [{"user": name, "role": role} for name, role in store().members(ws.session_id, ws.user).items()]


def grant(ws: SessionWorkspace, user: str, role: str) -> None:
    """Give ``user`` ``role`` in the session (only the owner may)."""
    assert ws.session_id is not None
    store().share(ws.session_id, ws.user, grant=user, role=role)
