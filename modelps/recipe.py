"""Recipes: the JSON record of every edit made to a model, replayable on its base.

Format::

    {"modelps_recipe": 1,
     "base": {"sha256": "<hash of the original model file>"},
     "edits": [{"op": "set_input_shape", "input": "x", "shape": ["batch", 3, 256, 128]}, ...]}

``base`` is optional; when present, applying the recipe to another model is refused.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelps.edits import Edit, edit_from_dict
from modelps.errors import EditError, RecipeError

__all__ = ["RECIPE_VERSION", "Recipe"]

RECIPE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Recipe:
    """An ordered list of edits, optionally bound to the SHA-256 of its base model file."""

    edits: tuple[Edit, ...] = ()
    base_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The recipe as a JSON-ready dict."""
        data: dict[str, Any] = {"modelps_recipe": RECIPE_VERSION}
        if self.base_sha256:
            data["base"] = {"sha256": self.base_sha256}
        data["edits"] = [edit.to_dict() for edit in self.edits]
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The recipe as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the recipe as JSON."""
        Path(path).write_text(self.to_json() + "\n")

    def __add__(self, other: Recipe | Sequence[Edit]) -> Recipe:
        edits = other.edits if isinstance(other, Recipe) else tuple(other)
        return Recipe((*self.edits, *edits), self.base_sha256)

    @classmethod
    def from_dict(cls, data: Any) -> Recipe:
        """Parse a recipe dict (or a bare list of edits).

        Raises:
            RecipeError: The document is malformed; the message names the offending edit.
        """
        if isinstance(data, list):
            data = {"modelps_recipe": RECIPE_VERSION, "edits": data}
        if not isinstance(data, Mapping):
            raise RecipeError(f"a recipe must be a JSON object, got {type(data).__name__}")
        version = data.get("modelps_recipe")
        if version != RECIPE_VERSION:
            raise RecipeError(f'not a ModelPS recipe ("modelps_recipe" is {version!r}, expected {RECIPE_VERSION})')
        unknown = sorted(set(data) - {"modelps_recipe", "base", "edits"})
        if unknown:
            raise RecipeError(f"unknown recipe field(s) {unknown}")
        raw_edits = data.get("edits", [])
        if not isinstance(raw_edits, list):
            raise RecipeError('"edits" must be a list')
        edits = []
        for index, raw in enumerate(raw_edits):
            try:
                edits.append(edit_from_dict(raw))
            except EditError as exc:
                raise RecipeError(f"edit #{index + 1}: {exc}") from exc
        return cls(tuple(edits), _base_hash(data.get("base")))

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        """Parse recipe JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecipeError(f"the recipe is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recipe:
        """Read a recipe file."""
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise RecipeError(f"{path}: cannot read the recipe ({exc.strerror})") from exc
        return cls.from_json(text)


def _base_hash(base: Any) -> str | None:
    if base is None:
        return None
    if not isinstance(base, Mapping) or not isinstance(base.get("sha256"), str):
        raise RecipeError('"base" must be an object with a "sha256" string')
    return str(base["sha256"])
