"""Recipe documents: parsing, validation errors and round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelps import Recipe, RecipeError
from modelps.edits import edit_from_dict


def test_round_trip_through_json(tmp_path: Path) -> None:
    data = {
        "modelps_recipe": 1,
        "base": {"sha256": "ab" * 32},
        "edits": [
            {"op": "rename", "kind": "node", "old": "a", "new": "b"},
            {"op": "set_attribute", "node": "n1", "name": "alpha", "value": 0.5},
            {"op": "remove_output", "output": "y", "prune": False},
        ],
    }
    recipe = Recipe.from_dict(data)
    assert recipe.to_dict() == data
    recipe.save(tmp_path / "r.json")
    assert Recipe.load(tmp_path / "r.json") == recipe


def test_defaults_are_omitted() -> None:
    assert edit_from_dict({"op": "remove_output", "output": "y", "prune": True}).to_dict() == {
        "op": "remove_output",
        "output": "y",
    }


def test_bare_list_is_accepted() -> None:
    assert len(Recipe.from_dict([{"op": "remove_node", "node": "x"}]).edits) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "the recipe is not valid JSON"),
        ("42", "a recipe must be a JSON object, got int"),
        ('{"edits": []}', 'not a ModelPS recipe \\("modelps_recipe" is None, expected 1\\)'),
        ('{"modelps_recipe": 2, "edits": []}', '"modelps_recipe" is 2'),
        ('{"modelps_recipe": 1, "edits": {}}', '"edits" must be a list'),
        ('{"modelps_recipe": 1, "steps": []}', r"unknown recipe field\(s\) \['steps'\]"),
        ('{"modelps_recipe": 1, "base": "abc", "edits": []}', '"base" must be an object'),
        ('{"modelps_recipe": 1, "edits": [{"op": "nope"}]}', "edit #1: unknown edit 'nope'"),
        ('{"modelps_recipe": 1, "edits": [{"node": "x"}]}', 'edit #1: an edit needs an "op" string'),
        ('{"modelps_recipe": 1, "edits": ["remove_node"]}', "edit #1: an edit must be a JSON object, got str"),
        (
            '{"modelps_recipe": 1, "edits": [{"op": "remove_node", "node": "a"}, {"op": "remove_node"}]}',
            "edit #2: remove_node: missing parameter 'node'",
        ),
    ],
)
def test_malformed_recipes(text: str, message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        Recipe.from_json(text)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="cannot read the recipe"):
        Recipe.load(tmp_path / "missing.json")


def test_json_is_plain() -> None:
    recipe = Recipe.from_dict([{"op": "set_attribute", "node": "n", "name": "perm", "value": [0, 2, 1]}])
    assert json.loads(recipe.to_json())["edits"][0]["value"] == [0, 2, 1]
