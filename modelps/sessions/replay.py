"""Rebuilding the model of any revision from the base model, the stored edits and snapshots.

A session's revisions form a linear history. Each revision's model ("state") is defined by its kind:

``create``
    revision 0: the base model.
``edit``
    the previous revision's model with one edit applied.
``undo`` / ``checkout``
    equal to the model of an earlier revision, ``target`` (history is never rewritten: going back
    is a new revision that points at the state it returns to).

:func:`edit_chain` walks back from a revision to the nearest available starting point (a snapshot,
a cached model or the base) and returns the edits to replay from there. Replayed edits are not
validated again: each was validated when it was stored.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import onnx_ir as ir

from modelps.edits import Edit, edit_from_dict
from modelps.errors import ModelPSError
from modelps.model import Model
from modelps.sessions.errors import SessionError, StoreError
from modelps.tape import ModelHolder, Tape

__all__ = ["MissingRow", "RevisionRow", "edit_chain", "replay", "undo_target"]


class MissingRow(StoreError):
    """The walk back through history needs a revision that is not in the rows given."""


@dataclasses.dataclass(frozen=True)
class RevisionRow:
    """The part of a stored revision that defines its model."""

    number: int
    kind: str
    edit: Mapping[str, Any] | None = None
    target: int | None = None

    @classmethod
    def from_db(cls, number: int, kind: str, edit: str | None, target: int | None) -> RevisionRow:
        """Build from database columns (``edit`` is JSON text)."""
        return cls(number, kind, json.loads(edit) if edit else None, target)


def edit_chain(
    rows: Mapping[int, RevisionRow], revision: int, available: Callable[[int], bool] = lambda _r: False
) -> tuple[int, list[RevisionRow]]:
    """Find where to start rebuilding ``revision`` and which edits to replay, oldest first.

    Returns ``(start, edits)``: ``start`` is the first revision met walking back for which
    ``available(start)`` is true, or ``0`` (the base model).

    Example::

        >>> rows = {1: RevisionRow(1, "edit", {"op": "a"}), 2: RevisionRow(2, "edit", {"op": "b"}),
        ...         3: RevisionRow(3, "undo", target=1), 4: RevisionRow(4, "edit", {"op": "c"})}
        >>> start, edits = edit_chain(rows, 4)
        >>> start, [e.edit["op"] for e in edits]
        (0, ['a', 'c'])
        >>> edit_chain(rows, 4, available=lambda r: r == 1)[0]
        1
    """
    chain: list[RevisionRow] = []
    current = revision
    while current > 0 and not available(current):
        row = rows.get(current)
        if row is None:
            raise MissingRow(f"revision {current} is missing from the store")
        if row.kind == "edit":
            chain.append(row)
            current -= 1
        elif row.kind in ("undo", "checkout"):
            if row.target is None or not 0 <= row.target < row.number:
                raise StoreError(f"revision {row.number} ({row.kind}) points at an invalid revision {row.target}")
            current = row.target
        else:
            raise StoreError(f"revision {row.number} has an unknown kind {row.kind!r}")
    chain.reverse()
    return current, chain


def undo_target(rows: Mapping[int, RevisionRow], head: int) -> int:
    """Return the revision whose model ``undo`` goes back to: the state before the latest change still in effect.

    Undoing an edit or a checkout returns to the revision before it; undoing again after an undo
    goes further back (an undo stack walked through history), so repeated undos peel off edits.

    Example::

        >>> rows = {1: RevisionRow(1, "edit", {}), 2: RevisionRow(2, "edit", {}), 3: RevisionRow(3, "undo", target=1)}
        >>> undo_target(rows, 2), undo_target(rows, 3)
        (1, 0)
    """
    current = head
    while True:
        if current <= 0:
            raise SessionError("nothing to undo: the session is back at its base model")
        row = rows[current]
        if row.kind == "undo":
            assert row.target is not None
            current = row.target
            continue
        return current - 1


def replay(start: Model, edits: Sequence[RevisionRow]) -> tuple[Model, float]:
    """Apply ``edits`` to ``start`` in place, without validation; returns the model and the seconds taken.

    Raises:
        StoreError: A stored edit no longer applies (the edit's code changed since it was stored).
    """
    began = time.perf_counter()
    holder = ModelHolder(start.ir)
    for row in edits:
        try:
            edit: Edit = edit_from_dict(row.edit or {})
            edit.apply(Tape(holder))
        except ModelPSError as exc:
            raise StoreError(f"revision {row.number} no longer replays: {exc}") from exc
    model = start if holder.model is start.ir else _rewrap(start, holder.model)
    return model, time.perf_counter() - began


def _rewrap(old: Model, new_ir: ir.Model) -> Model:
    """Wrap ``new_ir`` in a model object (an edit replaced the whole model)."""
    return Model(new_ir, base_sha256=old.base_sha256, validation=old.validation)
