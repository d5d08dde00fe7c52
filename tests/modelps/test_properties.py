"""Property tests: random edit sequences undo exactly and replay byte-identically."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelps import EditError, Model, Recipe
from tests.models import CHAIN, model_from_text

NODES = ["n0", "n1", "n2", "n3", "n4", "n5", "relu", "missing"]
TENSORS = ["x", "a", "b", "c", "d", "e", "y", "t1", "missing"]

edit_strategy: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.builds(lambda n: {"op": "remove_node", "node": n}, st.sampled_from(NODES)),
    st.builds(lambda t: {"op": "add_output", "tensor": t}, st.sampled_from(TENSORS)),
    st.builds(lambda t, p: {"op": "remove_output", "output": t, "prune": p}, st.sampled_from(TENSORS), st.booleans()),
    st.builds(
        lambda k, o, n: {"op": "rename", "kind": k, "old": o, "new": n},
        st.sampled_from(["tensor", "output", "input"]),
        st.sampled_from(TENSORS),
        st.sampled_from(["t1", "t2", "a", "y"]),
    ),
    st.builds(
        lambda o, n: {"op": "rename", "kind": "node", "old": o, "new": n},
        st.sampled_from(NODES),
        st.sampled_from(["relu", "n9"]),
    ),
    st.builds(
        lambda n, v: {"op": "set_attribute", "node": n, "name": "ratio_note", "value": v},
        st.sampled_from(NODES),
        st.one_of(
            st.none(),
            st.integers(-3, 3),
            st.floats(-1, 1, allow_nan=False, width=32),
            st.lists(st.integers(0, 4), min_size=1, max_size=3),
        ),
    ),
    st.builds(
        lambda v: {"op": "set_attribute", "node": "n2", "name": "seed", "value": v},
        st.one_of(st.none(), st.integers(0, 1000)),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edit_strategy, min_size=1, max_size=8))
def test_undo_all_restores_original_and_recipe_replays(edits: list[dict[str, Any]]) -> None:
    model = Model(model_from_text(CHAIN), validation="full")
    original = model.to_bytes()
    for edit in edits:
        before = model.to_bytes()
        try:
            model.apply(edit)
        except EditError:
            assert model.to_bytes() == before, f"refused edit {edit} changed the model"
    edited = model.to_bytes()

    replay = Model(model_from_text(CHAIN))
    replay.apply_recipe(Recipe.from_json(model.recipe.to_json()))
    assert replay.to_bytes() == edited

    for _ in range(len(model.history)):
        model.undo()
    assert model.to_bytes() == original

    for _ in range(len(model.redo_stack)):
        model.redo()
    assert model.to_bytes() == edited
