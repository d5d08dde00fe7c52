"""The editing session object: a model with an undo/redo history and its recipe."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir

from modelps import io
from modelps.edits import Edit, edit_from_dict
from modelps.errors import EditError, ModelPSError, RecipeError, ValidationError, first_line
from modelps.measured import (
    MAX_MEASURED_BYTES,
    EditReport,
    Outputs,
    breakage,
    default_feeds,
    first_broken,
    measure_edit,
    run_outputs,
    trace,
)
from modelps.names import node_key
from modelps.recipe import Recipe
from modelps.tape import ModelHolder, Tape
from modelps.unused import drop_unused, unused_constants
from modelps.validate import Level, validate

__all__ = ["Model"]

logger = logging.getLogger(__name__)


Feeds = list[dict[str, np.ndarray]]


@dataclasses.dataclass
class _Step:
    edit: Edit
    tape: Tape
    report: EditReport
    before: tuple[Feeds, Outputs] | None = None


@dataclasses.dataclass
class _Reference:
    """The validation inputs and the outputs of the model at one ``version`` on them."""

    version: int
    feeds: Feeds | None
    outputs: Outputs | None
    note: str = ""


class _Broken(Exception):
    """An edit made outputs non-finite or collapse (raised inside :meth:`Model._apply`)."""

    def __init__(self, reason: str, after: Any, feeds: Feeds) -> None:
        super().__init__(reason)
        self.reason, self.after, self.feeds = reason, after, feeds


class Model:
    """A model being edited.

    Every :meth:`apply` is validated at the session's level (``full`` by default: structure,
    ``onnx.checker`` and shape inference); an edit that fails is rolled back and raises
    :class:`~modelps.errors.EditError`, leaving the model as it was. At ``full`` and ``runtime``
    an edit that does not promise equal outputs is also *measured*: the model runs before and
    after it on ``validation_inputs`` (seeded random ones by default) and the fidelity goes into
    :attr:`reports`; the edit is refused when outputs become non-finite or collapse, naming the
    first tensor that went wrong (see :mod:`modelps.measured`). Weights that an edit leaves
    unread are removed with it (:mod:`modelps.unused`). :meth:`undo` and :meth:`redo` cost time
    proportional to the edit, not to the model.

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
        validation_inputs: Sequence[Mapping[str, np.ndarray]] | None = None,
        measure: bool = True,
    ) -> None:
        self._holder = ModelHolder(model)
        self.base_sha256 = base_sha256
        self.path = Path(path) if path is not None else None
        self.validation: Level = validation
        self.measure = measure
        """Whether edits that change outputs are measured (see the class docstring)."""
        self._inputs = [dict(feed) for feed in validation_inputs] if validation_inputs else None
        self._done: list[_Step] = []
        self._undone: list[Edit] = []
        self._version = 0
        self._reference: _Reference | None = None
        _name_unnamed_nodes(model.graph)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, validation: Level = "full", **options: Any) -> Model:
        """Open a model file (see :func:`modelps.io.load` for the safety checks).

        ``options`` are the other keyword arguments of the constructor (``validation_inputs``, ``measure``).
        """
        return cls(io.load(path), base_sha256=io.file_sha256(path), path=path, validation=validation, **options)

    @property
    def ir(self) -> ir.Model:
        """The current ``onnx_ir`` model (do not mutate it directly: use :meth:`apply`)."""
        return self._holder.model

    @property
    def history(self) -> list[Edit]:
        """The edits applied so far, oldest first."""
        return [step.edit for step in self._done]

    @property
    def reports(self) -> list[EditReport]:
        """What validation found for each edit of :attr:`history` (measured fidelity, warnings)."""
        return [step.report for step in self._done]

    @property
    def validation_inputs(self) -> Feeds | None:
        """The inputs edits are measured on (``None``: seeded random ones)."""
        return self._inputs

    @validation_inputs.setter
    def validation_inputs(self, feeds: Sequence[Mapping[str, np.ndarray]] | None) -> None:
        self._inputs = [dict(feed) for feed in feeds] if feeds else None
        self._reference = None

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
        before = self._reference_outputs() if self._measures(edit, level) else None
        unused = unused_constants(self.ir.graph)
        warnings: list[str] = []
        try:
            edit.apply(tape)
            if tape.rewired:
                drop_unused(tape, unused)
            self._holder.types = None
            self._holder.types = validate(self.ir, level, structure=tape.rewired, warnings=warnings)
            report = self._measured(edit, before, warnings)
        except _Broken as broken:
            tape.rollback()
            self._holder.types = types
            where = first_broken(broken.after, trace(self.ir, broken.feeds))
            raise EditError(f"refused: {broken.reason}; {where}", op=edit.op) from None
        except Exception as exc:
            tape.rollback()
            self._holder.types = types
            error = _as_edit_error(edit, exc)
            if error is exc:
                raise
            raise error from exc
        kept = (before.feeds, before.outputs) if before and before.feeds and before.outputs is not None else None
        self._done.append(_Step(edit, tape, report, kept))
        self._version += 1
        if report.fidelity is not None and self._reference is not None:
            self._reference.version = self._version  # the outputs after this edit, measured just now

    def _measures(self, edit: Edit, level: Level) -> bool:
        if not self.measure or edit.preserves_function or level not in ("full", "runtime"):
            return False
        return io.weight_bytes(self.ir) <= MAX_MEASURED_BYTES

    def _reference_outputs(self) -> _Reference:
        """The current model's outputs on the validation inputs (cached per version)."""
        if self._reference is not None and self._reference.version == self._version:
            return self._reference
        try:
            feeds = self._inputs or default_feeds(self.ir)
        except ModelPSError as exc:
            self._reference = _Reference(self._version, None, None, f"not measured: {exc}")
            return self._reference
        try:
            outputs: Outputs | None = run_outputs(self.ir, feeds)
            note = ""
        except Exception as exc:  # ONNX Runtime raises its own types
            outputs, note = None, f"not measured: ONNX Runtime cannot run the model before the edit ({first_line(exc)})"
        self._reference = _Reference(self._version, feeds, outputs, note)
        return self._reference

    def _measured(self, edit: Edit, before: _Reference | None, warnings: list[str]) -> EditReport:
        """Run the edited model on the reference inputs; raise :class:`_Broken` if outputs broke."""
        if before is None:
            return EditReport(edit.op, warnings=tuple(warnings))
        if before.outputs is None or before.feeds is None:
            return EditReport(edit.op, note=before.note, warnings=tuple(warnings))
        try:
            after = run_outputs(self.ir, before.feeds)
        except Exception as exc:  # ONNX Runtime raises its own types
            if _accepts(self.ir, before.feeds[0]):
                raise EditError(f"refused: ONNX Runtime cannot run the edited model: {first_line(exc)}") from exc
            note = f"not measured: the edited model takes other inputs ({first_line(exc)})"
            return EditReport(edit.op, note=note, warnings=tuple(warnings))
        broken = breakage(before.outputs, after)
        if broken:
            raise _Broken(broken, trace(self.ir, before.feeds[:2]), before.feeds[:2])
        result, note = measure_edit(before.outputs, after)
        self._reference = _Reference(-1, before.feeds, after)  # becomes current once the edit is kept
        return EditReport(edit.op, result, note, tuple(warnings))

    def apply_recipe(
        self, recipe: Recipe, *, check_base: bool = True, validation: Level | None = None
    ) -> list[EditReport]:
        """Apply every edit of ``recipe``; if one fails, all of them are undone and the error raised.

        Returns:
            One report per edit applied (measured fidelity, validation warnings).

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
        return self.reports[-applied:] if applied else []

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
        self._version += 1
        if step.before is not None:  # the outputs of the state undo returns to are known
            self._reference = _Reference(self._version, *step.before)
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


def _accepts(model: ir.Model, feed: Mapping[str, np.ndarray]) -> bool:
    """Whether ``feed`` matches the model's declared inputs (names, dtypes, fixed dims)."""
    from modelps.runtime import input_specs

    specs = input_specs(model)
    if {name for name, _, _ in specs} != set(feed):
        return False
    for name, dtype, shape in specs:
        array = feed[name]
        if array.dtype != dtype or (shape and len(shape) != array.ndim):
            return False
        if any(isinstance(d, int) and d >= 0 and d != n for d, n in zip(shape, array.shape, strict=False)):
            return False
    return True


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
