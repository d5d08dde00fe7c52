"""What the buttons do, as plain functions over a :class:`~editor_ui.workspace.Workspace`.

Each returns an :class:`Outcome` (ok flag and the message to show), so the pages only display it and
the behaviour is unit tested without Streamlit. Refused edits leave the model unchanged and carry the
edit's own reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from editor_ui.forms import parse_form
from editor_ui.workspace import HistoryEntry, Workspace
from modelps.edits import edit_from_dict
from modelps.errors import EditError, ModelPSError
from modelps.recipe import Recipe

__all__ = [
    "Outcome",
    "apply_form",
    "apply_recipe_text",
    "describe_edit",
    "history_rows",
    "recipe_json",
    "redo",
    "undo",
    "validate",
]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The result of a user action: whether it worked and what to tell the user."""

    ok: bool
    message: str
    entry: HistoryEntry | None = None


def describe_edit(edit: dict[str, Any]) -> str:
    """One line for an edit dict, e.g. ``remove_node(node='n3')``.

    >>> describe_edit({"op": "remove_node", "node": "n3"})
    "remove_node(node='n3')"
    """
    try:
        return edit_from_dict(edit).describe()
    except ModelPSError:
        params = ", ".join(f"{k}={v!r}" for k, v in edit.items() if k != "op")
        return f"{edit.get('op', '?')}({params})"


def apply_form(ws: Workspace, op: str, values: dict[str, Any]) -> Outcome:
    """Parse a form for edit ``op`` and apply it; a refusal keeps the model and says why."""
    try:
        edit = parse_form(op, values)
        entry = ws.apply(edit)
    except EditError as exc:
        return Outcome(False, f"Refused: {exc}")
    except ModelPSError as exc:
        return Outcome(False, f"Refused: {exc}")
    note = f" ({entry.message}: others edited meanwhile)" if entry.message.startswith("rebased") else ""
    return Outcome(True, f"Applied {describe_edit(entry.edit)} as revision {entry.revision}{note}", entry)


def apply_recipe_text(ws: Workspace, text: str) -> Outcome:
    """Apply every edit of a recipe (JSON text) as separate revisions; stops at the first refusal."""
    try:
        recipe = Recipe.from_json(text)
    except ModelPSError as exc:
        return Outcome(False, f"Refused: {exc}")
    done = 0
    for index, edit in enumerate(recipe.edits):
        try:
            ws.apply(edit.to_dict())
        except ModelPSError as exc:
            return Outcome(False, f"Applied {done} of {len(recipe.edits)} edits; edit #{index + 1} refused: {exc}")
        done += 1
    return Outcome(True, f"Applied {done} edit{'s' if done != 1 else ''} (now revision {ws.revision})")


def undo(ws: Workspace) -> Outcome:
    """Undo the last edit (in a shared session: a new revision that reverts it)."""
    try:
        entry = ws.undo()
    except ModelPSError as exc:
        return Outcome(False, str(exc).capitalize())
    what = describe_edit(entry.edit) if entry else "the last edit"
    return Outcome(True, f"Undid {what}", entry)


def redo(ws: Workspace) -> Outcome:
    """Redo the last undone edit."""
    try:
        entry = ws.redo()
    except ModelPSError as exc:
        return Outcome(False, str(exc).capitalize())
    what = describe_edit(entry.edit) if entry else "the edit"
    return Outcome(True, f"Redid {what}", entry)


def history_rows(ws: Workspace) -> list[dict[str, Any]]:
    """Rows for the history table: revision, author, time (UTC), edit, message; newest first."""
    rows = [{"revision": 0, "author": "", "time": "", "edit": "base model", "message": ""}]
    for entry in ws.history():
        rows.append(
            {
                "revision": entry.revision,
                "author": entry.author,
                "time": dt.datetime.fromtimestamp(entry.time, dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "edit": describe_edit(entry.edit),
                "message": entry.message,
            }
        )
    return rows[::-1]


def recipe_json(ws: Workspace) -> str:
    """Return the current recipe as JSON text (for download)."""
    return json.dumps(ws.recipe().to_dict(), indent=2) + "\n"


def validate(ws: Workspace) -> Outcome:
    """Validate the current revision in full (checker, strict shape inference, ONNX Runtime)."""
    try:
        with ws.lock:
            ws.model.validate("runtime")
    except ModelPSError as exc:
        return Outcome(False, f"Revision {ws.revision} is not valid: {exc}")
    return Outcome(True, f"Revision {ws.revision} passed full validation (checker, shape inference, ONNX Runtime).")
