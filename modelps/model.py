"""The editing session object: a model with an undo/redo history and its recipe."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import onnx_ir as ir

from modelps import io
from modelps.edits import Edit, edit_from_dict
from modelps.errors import EditError, ModelPSError, RecipeError, ValidationError
from modelps.names import node_key
from modelps.recipe import Recipe
from modelps.tape import ModelHolder, Tape
from modelps.validate import Level, validate

__all__ = ["Model"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class _Step:
    edit: Edit
    tape: Tape


class Model:
    """A model being edited.

    Every :meth:`apply` is validated at the session's level (``full`` by default: structure,
    ``onnx.checker`` and shape inference); an edit that fails is rolled back and raises
    :class:`~modelps.errors.EditError`, leaving the model as it was. :meth:`undo` and :meth:`redo`
    cost time proportional to the edit, not to the model.

    Example::

        >>> import onnx_ir as ir
        >>> m = Model(ir.from_onnx_text('''
        ...     <ir_version: 8, opset_import: ["" : 17]>
        ...     g (float[2] x) => (float[2] y) { t = Identity(x)  y = Relu(t) }'''))
        >>> m.nodes_named()
        ['n0', 'n1']
        >>> _ = m.apply({"op": "remove_node", "node": "n0"})
        >>> len(m.ir.graph), m.recipe.to_dict()["edits"]
        (1, [{'op': 'remove_node', 'node': 'n0'}])
        >>> _ = m.undo(); len(m.ir.graph)
        2
    """

    def __init__(
        self,
        model: ir.Model,
        *,
        base_sha256: str | None = None,
        path: str | os.PathLike[str] | None = None,
        validation: Level = "full",
    ) -> None:
        self._holder = ModelHolder(model)
        self.base_sha256 = base_sha256
        self.path = Path(path) if path is not None else None
        self.validation: Level = validation
        self._done: list[_Step] = []
        self._undone: list[Edit] = []
        _name_unnamed_nodes(model.graph)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, validation: Level = "full") -> Model:
        """Open a model file (see :func:`modelps.io.load` for the safety checks)."""
        return cls(io.load(path), base_sha256=io.file_sha256(path), path=path, validation=validation)

    @property
    def ir(self) -> ir.Model:
        """The current ``onnx_ir`` model (do not mutate it directly: use :meth:`apply`)."""
        return self._holder.model

    @property
    def history(self) -> list[Edit]:
        """The edits applied so far, oldest first."""
        return [step.edit for step in self._done]

    @property
    def redo_stack(self) -> list[Edit]:
        """Edits that :meth:`redo` would re-apply, next first."""
        return list(reversed(self._undone))

    @property
    def recipe(self) -> Recipe:
        """The recipe that rebuilds this model from its base."""
        return Recipe(tuple(self.history), self.base_sha256)

    def nodes_named(self) -> list[str]:
        """Names of the main graph's nodes, in order."""
        return [node.name or "" for node in self.ir.graph]

    def apply(self, edit: Edit | Mapping[str, Any], *, validation: Level | None = None) -> Edit:
        """Apply one edit and validate the result; on any failure the model is unchanged.

        Raises:
            EditError: The edit does not apply, or its result fails validation.
        """
        edit = edit if isinstance(edit, Edit) else edit_from_dict(edit)
        self._apply(edit, validation or self.validation)
        self._undone.clear()
        return edit

    def _apply(self, edit: Edit, level: Level) -> None:
        tape = Tape(self._holder)
        types = self._holder.types
        try:
            edit.apply(tape)
            self._holder.types = None
            self._holder.types = validate(self.ir, level, structure=tape.rewired)
        except Exception as exc:
            tape.rollback()
            self._holder.types = types
            error = _as_edit_error(edit, exc)
            if error is exc:
                raise
            raise error from exc
        self._done.append(_Step(edit, tape))

    def apply_recipe(self, recipe: Recipe, *, check_base: bool = True, validation: Level | None = None) -> None:
        """Apply every edit of ``recipe``; if one fails, all of them are undone and the error raised.

        Raises:
            RecipeError: The recipe's base hash is not this model's.
            EditError: An edit failed; its message says which one.
        """
        if check_base and recipe.base_sha256 and self.base_sha256 and recipe.base_sha256 != self.base_sha256:
            raise RecipeError(
                f"the recipe was made for base model {recipe.base_sha256[:12]}…, "
                f"not this one ({self.base_sha256[:12]}…)"
            )
        applied = 0
        try:
            for index, edit in enumerate(recipe.edits):
                try:
                    self.apply(edit, validation=validation)
                except EditError as exc:
                    raise EditError(f"edit #{index + 1}: {exc.reason}", op=exc.op) from exc
                applied += 1
        except ModelPSError:
            for _ in range(applied):
                self.undo()
            self._undone.clear()
            raise

    def undo(self) -> Edit:
        """Revert the last edit and return it.

        Raises:
            EditError: There is nothing to undo.
        """
        if not self._done:
            raise EditError("nothing to undo")
        step = self._done.pop()
        step.tape.rollback()
        self._holder.types = None
        self._undone.append(step.edit)
        return step.edit

    def redo(self) -> Edit:
        """Re-apply the last undone edit and return it.

        Raises:
            EditError: There is nothing to redo.
        """
        if not self._undone:
            raise EditError("nothing to redo")
        edit = self._undone[-1]
        self._apply(edit, self.validation)
        self._undone.pop()
        return edit

    def validate(self, level: Level = "runtime") -> None:
        """Validate the current model at ``level`` (see :mod:`modelps.validate`)."""
        validate(self.ir, level)

    def to_bytes(self) -> bytes:
        """The current model serialized deterministically."""
        return io.model_bytes_or_error(self.ir)

    def save(self, path: str | os.PathLike[str], *, external_data: str | None = None) -> Path:
        """Save the current model (see :func:`modelps.io.save`)."""
        return io.save(self.ir, path, external_data=external_data)


def _as_edit_error(edit: Edit, exc: Exception) -> ModelPSError:
    """Turn a failure inside an edit or its validation into the error the caller sees."""
    if isinstance(exc, ValidationError):
        return EditError(f"refused, the result would be invalid: {exc}", op=edit.op)
    if isinstance(exc, ModelPSError):
        return exc
    logger.exception("edit %s failed", edit.op)
    return EditError(f"failed unexpectedly ({type(exc).__name__}: {exc})", op=edit.op)


def _name_unnamed_nodes(graph: ir.Graph) -> None:
    """Give every unnamed node a stable name (``n<index>``) so edits can refer to it."""
    taken = {node.name for node in graph if node.name}
    for index, node in enumerate(graph):
        if not node.name:
            name = node_key(node, index)
            while name in taken:
                name = f"{name}_"
            node.name = name
            taken.add(name)
