"""What one browser tab edits: a model with its history, local or backed by a shared session.

:class:`LocalWorkspace` keeps everything in memory on top of :class:`modelps.Model` (undo/redo pop and
push). :class:`editor_ui.shared.SessionWorkspace` has the same interface over the shared session store,
where every edit is a revision and others' edits arrive on :meth:`Workspace.refresh`. The pages only
talk to this interface.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import onnx_ir as ir

from modelps import io
from modelps.errors import EditError, ModelLoadError
from modelps.model import Model
from modelps.recipe import Recipe

__all__ = ["FULL_VALIDATION_LIMIT", "HistoryEntry", "LocalWorkspace", "Workspace", "home", "store_model_file"]

FULL_VALIDATION_LIMIT = 2000
"""Up to this many nodes every edit is validated in full (checker and shape inference, about 0.2 s per
1,000 nodes here); larger models are validated structurally per edit and in full on request
(:func:`editor_ui.actions.validate`), as the core's documentation advises for large graphs."""


def home() -> Path:
    """Return the ModelPS home folder (``MODELPS_HOME`` or ``~/.modelps``)."""
    return Path(os.environ.get("MODELPS_HOME") or Path.home() / ".modelps")


def store_model_file(path: str | os.PathLike[str], *, digest: str | None = None, move: bool = False) -> Path:
    """Copy (or with ``move``, rename) a model file into ``$MODELPS_HOME/models/<sha256>.onnx``; return it.

    ``digest`` is the file's SHA-256 when the caller has it already.

    Raises:
        ModelLoadError: The file cannot be read.
    """
    try:
        digest = digest or io.file_sha256(path)
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read the model ({exc.strerror})") from exc
    folder = home() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest}.onnx"
    if not target.exists():
        if move:
            os.replace(path, target)
        else:
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
    return target


@dataclasses.dataclass(frozen=True)
class HistoryEntry:
    """One revision: its number (1 = first edit), author, time (epoch seconds) and the edit."""

    revision: int
    author: str
    time: float
    edit: dict[str, Any]
    message: str = ""


class Workspace:
    """The interface the pages use; see :class:`LocalWorkspace` and ``SessionWorkspace``."""

    user: str
    name: str
    session_id: str | None = None
    _lock: threading.RLock | None = None

    @property
    def lock(self) -> threading.RLock:
        """Held while the model changes or is serialized or inferred, which swaps weights for stubs meanwhile.

        Validation and shape inference briefly point large weights at a placeholder file; a download
        or another page's inference running at that moment in another thread would read the
        placeholder (``__modelps_weight_stub__``). Everything that reads or changes the model from the
        UI takes this lock.
        """
        if self._lock is None:
            self._lock = threading.RLock()
        return self._lock

    @property
    def model(self) -> Model:
        """The model at the current revision."""
        raise NotImplementedError

    @property
    def revision(self) -> int:
        """The current revision (0 = the base model)."""
        return len(self.history())

    def history(self) -> list[HistoryEntry]:
        """Every revision, oldest first."""
        raise NotImplementedError

    def apply(self, edit: dict[str, Any]) -> HistoryEntry:
        """Apply and record one edit; raises :class:`EditError` with the reason when refused."""
        raise NotImplementedError

    def undo(self) -> HistoryEntry | None:
        """Revert the last edit."""
        raise NotImplementedError

    def redo(self) -> HistoryEntry | None:
        """Re-apply the last undone edit."""
        raise NotImplementedError

    def can_redo(self) -> bool:
        """Whether :meth:`redo` has something to do."""
        return False

    def refresh(self) -> bool:
        """Pick up others' edits; returns whether anything changed."""
        return False

    def base_path(self) -> Path:
        """Return the base model file."""
        raise NotImplementedError

    def model_bytes(self) -> bytes:
        """The current model serialized, never while another thread has its weights stubbed out."""
        with self.lock:
            return self.model.to_bytes()

    def recipe(self, revision: int | None = None) -> Recipe:
        """Return the recipe from the base to ``revision`` (default: the current one)."""
        entries = self.history()
        upto = len(entries) if revision is None else revision
        edits = Recipe.from_dict([e.edit for e in entries[:upto]]).edits
        return Recipe(edits, self.model.base_sha256)

    def materialize(self, revision: int) -> ir.Model:
        """Return the model as it was at ``revision`` (replayed from the base).

        Raises:
            EditError: ``revision`` is out of range.
        """
        if not 0 <= revision <= self.revision:
            raise EditError(f"revision {revision} does not exist (the latest is {self.revision})")
        if revision == self.revision:
            return self.model.ir
        model = Model.load(self.base_path(), validation="none")
        model.apply_recipe(self.recipe(revision), validation="none")
        return model.ir


class LocalWorkspace(Workspace):
    """A workspace held in this process only: undo pops the last edit, redo pushes it back."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        user: str,
        name: str | None = None,
        sha256: str | None = None,
        move: bool = False,
    ) -> None:
        """Open ``path``; ``sha256`` is its digest if known, ``move`` takes the file into the store (no copy)."""
        loaded = io.load(path)  # first: a bad file is refused before anything is stored
        digest = sha256 or io.file_sha256(path)
        self._model = Model(loaded, base_sha256=digest, path=path)
        if len(self._model.ir.graph) > FULL_VALIDATION_LIMIT:
            self._model.validation = "structure"
        self._base = store_model_file(path, digest=digest, move=move)
        self._model.path = self._base
        self.user = user
        self.name = name or Path(path).stem
        self._entries: list[HistoryEntry] = []
        self._undone: list[HistoryEntry] = []

    @property
    def model(self) -> Model:
        """The model at the current revision."""
        return self._model

    def base_path(self) -> Path:
        """Return the base model file."""
        return self._base

    def history(self) -> list[HistoryEntry]:
        """Every revision, oldest first."""
        return list(self._entries)

    def apply(self, edit: dict[str, Any]) -> HistoryEntry:
        """Apply and record one edit."""
        with self.lock:
            applied = self._model.apply(edit)
        entry = HistoryEntry(len(self._entries) + 1, self.user, time.time(), applied.to_dict())
        self._entries.append(entry)
        self._undone.clear()
        return entry

    def undo(self) -> HistoryEntry | None:
        """Revert the last edit."""
        if not self._entries:
            raise EditError("nothing to undo")
        with self.lock:
            self._model.undo()
        entry = self._entries.pop()
        self._undone.append(entry)
        return entry

    def redo(self) -> HistoryEntry | None:
        """Re-apply the last undone edit."""
        if not self._undone:
            raise EditError("nothing to redo")
        with self.lock:
            self._model.redo()
        entry = dataclasses.replace(self._undone.pop(), time=time.time(), author=self.user)
        self._entries.append(entry)
        return entry

    def can_redo(self) -> bool:
        """Return whether :meth:`redo` has something to do."""
        return bool(self._undone)
