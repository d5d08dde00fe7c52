"""The editing session object: apply, undo, redo, recipes and rollback on failure."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from modelps import EditError, Model, Recipe, RecipeError, UnknownEditError
from modelps.edits import Edit
from modelps.runtime import make_inputs, run
from modelps.tape import Tape
from tests.models import CHAIN, model_from_text


@pytest.fixture()
def chain() -> Model:
    return Model(model_from_text(CHAIN))


def test_remove_node_preserves_outputs_and_undo_restores_bytes(chain: Model) -> None:
    original = chain.to_bytes()
    feeds = make_inputs(chain.ir, seed=3, batch=5)
    expected = run(chain.ir, feeds)["y"]
    chain.apply({"op": "remove_node", "node": "n1"})  # Identity
    chain.apply({"op": "remove_node", "node": "n2"})  # Dropout
    assert [n.op_type for n in chain.ir.graph] == ["Relu", "Sigmoid", "Mul", "Tanh"]
    np.testing.assert_array_equal(run(chain.ir, feeds)["y"], expected)
    chain.undo()
    chain.undo()
    assert chain.to_bytes() == original


def test_redo_reapplies_and_new_edit_clears_redo(chain: Model) -> None:
    chain.apply({"op": "remove_node", "node": "n1"})
    after = chain.to_bytes()
    chain.undo()
    assert [e.op for e in chain.redo_stack] == ["remove_node"]
    chain.redo()
    assert chain.to_bytes() == after
    chain.undo()
    chain.apply({"op": "rename", "kind": "node", "old": "n0", "new": "relu"})
    assert chain.redo_stack == []
    with pytest.raises(EditError, match="nothing to redo"):
        chain.redo()


def test_nothing_to_undo(chain: Model) -> None:
    with pytest.raises(EditError, match="nothing to undo"):
        chain.undo()


def test_refused_edit_leaves_model_unchanged(chain: Model) -> None:
    before = chain.to_bytes()
    with pytest.raises(EditError, match="has 2 non-constant inputs"):
        chain.apply({"op": "remove_node", "node": "n4"})  # Mul(d, a)
    with pytest.raises(EditError, match="no node named 'nope'"):
        chain.apply({"op": "remove_node", "node": "nope"})
    assert chain.to_bytes() == before
    assert chain.history == []


def test_unknown_edit_and_bad_parameters(chain: Model) -> None:
    with pytest.raises(UnknownEditError, match="unknown edit 'explode'; known edits: .*remove_node"):
        chain.apply({"op": "explode"})
    with pytest.raises(EditError, match="missing parameter 'node'"):
        chain.apply({"op": "remove_node"})
    with pytest.raises(EditError, match=r"unknown parameter\(s\) \['force'\]"):
        chain.apply({"op": "remove_node", "node": "n1", "force": True})
    with pytest.raises(EditError, match="parameter 'node' must be str, got 3"):
        chain.apply({"op": "remove_node", "node": 3})
    with pytest.raises(EditError, match="parameter 'kind' must be one of 'tensor', 'node', 'input', 'output'"):
        chain.apply({"op": "rename", "kind": "graph", "old": "a", "new": "b"})


@dataclasses.dataclass(frozen=True)
class _MakeCycle(Edit):
    """Test-only edit: feeds the last node's output back into the first node."""

    op = "_test_make_cycle"

    def apply(self, tape: Tape) -> None:
        nodes = list(tape.graph)
        tape.set_input(nodes[0], 0, nodes[-2].outputs[0])


@dataclasses.dataclass(frozen=True)
class _Dangle(Edit):
    """Test-only edit: makes a node read a tensor that nothing produces."""

    op = "_test_dangle"

    def apply(self, tape: Tape) -> None:
        import onnx_ir as ir

        tape.set_input(list(tape.graph)[1], 0, ir.Value(name="ghost"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_MakeCycle(), r"the graph has a cycle: n4 -> n0 -> n1 -> n2 -> n3 -> n4"),
        (_Dangle(), "node 'n1' reads tensor 'ghost', which nothing produces"),
    ],
)
def test_invalid_results_are_rolled_back(chain: Model, edit: Edit, message: str) -> None:
    before = chain.to_bytes()
    with pytest.raises(EditError, match=message):
        chain.apply(edit)
    assert chain.to_bytes() == before
    assert chain.history == []


def test_recipe_replays_byte_identically(chain: Model) -> None:
    chain.apply({"op": "remove_node", "node": "n2"})
    chain.apply({"op": "add_output", "tensor": "a"})
    chain.apply({"op": "rename", "kind": "tensor", "old": "a", "new": "relu_out"})
    replay = Model(model_from_text(CHAIN))
    replay.apply_recipe(Recipe.from_json(chain.recipe.to_json()))
    assert replay.to_bytes() == chain.to_bytes()


def test_apply_recipe_is_all_or_nothing(chain: Model) -> None:
    before = chain.to_bytes()
    recipe = Recipe.from_dict(
        {"modelps_recipe": 1, "edits": [{"op": "remove_node", "node": "n1"}, {"op": "remove_node", "node": "zz"}]}
    )
    with pytest.raises(EditError, match="edit #2: no node named 'zz'"):
        chain.apply_recipe(recipe)
    assert chain.to_bytes() == before
    assert chain.history == []


def test_recipe_for_another_base_is_refused(chain: Model) -> None:
    chain.base_sha256 = "a" * 64
    recipe = Recipe.from_dict({"modelps_recipe": 1, "base": {"sha256": "b" * 64}, "edits": []})
    with pytest.raises(RecipeError, match="made for base model bbbbbbbbbbbb"):
        chain.apply_recipe(recipe)
