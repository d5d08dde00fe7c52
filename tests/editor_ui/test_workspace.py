from __future__ import annotations

import json

import numpy as np
import pytest

from editor_ui import actions, revdiff
from editor_ui.workspace import LocalWorkspace, home
from modelps import runtime
from modelps.errors import EditError


def test_store_is_content_addressed_under_modelps_home(ws: LocalWorkspace, small_model_path) -> None:
    assert ws.base_path().parent == home() / "models"
    assert ws.base_path().read_bytes() == small_model_path.read_bytes()
    assert ws.revision == 0 and ws.history() == []


def test_apply_undo_redo_round_trip(ws: LocalWorkspace) -> None:
    before = ws.model.to_bytes()
    out = actions.apply_form(ws, "remove_node", {"node": "/block1/Relu_6"})
    assert out.ok and out.message == "Applied remove_node(node='/block1/Relu_6') as revision 1"
    assert "/block1/Relu_6" not in ws.model.nodes_named()
    entry = ws.history()[0]
    assert (entry.revision, entry.author, entry.edit) == (1, "alice", {"op": "remove_node", "node": "/block1/Relu_6"})
    assert actions.undo(ws).message == "Undid remove_node(node='/block1/Relu_6')"
    assert ws.model.to_bytes() == before and ws.revision == 0 and ws.can_redo()
    assert actions.redo(ws).ok and ws.revision == 1
    assert "/block1/Relu_6" not in ws.model.nodes_named()


def test_refused_edit_keeps_model_and_says_why(ws: LocalWorkspace) -> None:
    before = ws.model.to_bytes()
    out = actions.apply_form(ws, "remove_node", {"node": "no/such/node"})
    assert not out.ok
    assert out.message == "Refused: remove_node: no node named 'no/such/node' in the graph"
    out = actions.apply_form(ws, "remove_node", {"node": "/block2/Add_10"})  # two non-constant inputs
    assert not out.ok
    assert out.message.startswith("Refused: remove_node: node '/block2/Add_10' has 2 non-constant inputs")
    assert ws.model.to_bytes() == before and ws.revision == 0


def test_nothing_to_undo_or_redo(ws: LocalWorkspace) -> None:
    assert actions.undo(ws) == actions.Outcome(False, "Nothing to undo")
    assert actions.redo(ws) == actions.Outcome(False, "Nothing to redo")


def test_history_rows_newest_first(ws: LocalWorkspace) -> None:
    actions.apply_form(ws, "remove_node", {"node": "/block1/Relu_6"})
    actions.apply_form(ws, "add_output", {"tensor": "/block1/Conv_7_output_0"})
    rows = actions.history_rows(ws)
    assert [r["revision"] for r in rows] == [2, 1, 0]
    assert rows[0]["author"] == "alice" and rows[0]["edit"].startswith("add_output(")
    assert rows[-1]["edit"] == "base model"


def test_materialize_and_diff_between_revisions(ws: LocalWorkspace) -> None:
    actions.apply_form(ws, "remove_node", {"node": "/block1/Relu_6"})
    actions.apply_form(ws, "add_output", {"tensor": "/block1/Conv_7_output_0"})
    base, first = ws.materialize(0), ws.materialize(1)
    assert len(base.graph) == 30 and len(first.graph) == 29
    d = revdiff.diff_models(base, first)
    assert d["nodes_removed"] == ["/block1/Relu_6"]
    assert d["nodes_changed"] == ["/block1/Conv_7", "/block2/Add_10"]
    d2 = revdiff.diff_models(first, ws.materialize(2))
    assert d2["io_changed"] == ["output /block1/Conv_7_output_0: — → 1×4×8×8"]
    with pytest.raises(EditError, match="revision 3 does not exist"):
        ws.materialize(3)


def test_recipe_replays_to_the_same_model(ws: LocalWorkspace) -> None:
    actions.apply_form(ws, "remove_node", {"node": "/block1/Relu_6"})
    recipe = json.loads(actions.recipe_json(ws))
    assert recipe["edits"] == [{"op": "remove_node", "node": "/block1/Relu_6"}]
    assert recipe["base"]["sha256"] == ws.model.base_sha256
    other = LocalWorkspace(ws.base_path(), user="bob")
    assert actions.apply_recipe_text(other, json.dumps(recipe)).ok
    assert other.model.to_bytes() == ws.model.to_bytes()
    feeds = runtime.make_inputs(ws.model.ir, seed=1)
    expected = runtime.run(ws.model.ir, feeds)["logits"]
    np.testing.assert_array_equal(runtime.run(other.model.ir, feeds)["logits"], expected)


def test_recipe_with_a_bad_edit_applies_the_good_prefix(ws: LocalWorkspace) -> None:
    text = json.dumps(
        {
            "modelps_recipe": 1,
            "edits": [{"op": "remove_node", "node": "/block1/Relu_6"}, {"op": "remove_node", "node": "ghost"}],
        }
    )
    out = actions.apply_recipe_text(ws, text)
    assert not out.ok and out.message.startswith("Applied 1 of 2 edits; edit #2 refused: remove_node: no node named")
    assert ws.revision == 1
    assert actions.apply_recipe_text(ws, "{not json").message.startswith("Refused: the recipe is not valid JSON")


def test_download_waits_for_validation_that_stubs_the_weights(tmp_path) -> None:
    """Regression: a download racing a rerun's validation read ``__modelps_weight_stub__`` and failed."""
    import threading
    import time

    from editor_ui import downloads
    from editor_ui.samples import residual_cnn
    from modelps import io
    from modelps.validate import _stubbed_weights

    path = tmp_path / "wide.onnx"
    io.save(residual_cnn(12, channels=16), path)  # 16x16x3x3 weights: over the 1 KiB inline limit
    ws = LocalWorkspace(path, user="u")
    expected = ws.model.to_bytes()
    inside = threading.Event()

    def validation_in_another_thread() -> None:
        with ws.lock, _stubbed_weights(ws.model.ir, str(tmp_path)):  # what check_full/infer do meanwhile
            inside.set()
            time.sleep(0.3)

    other = threading.Thread(target=validation_in_another_thread)
    other.start()
    inside.wait(5)
    assert downloads.model_bytes(ws) == expected
    seen: list[float] = []
    file = downloads.prepare_model_file(ws, lambda f, text: seen.append(f), folder=tmp_path / "dl")
    other.join()
    assert file.read_bytes() == expected and seen[-1] == 1.0


def test_every_model_change_and_read_from_the_ui_takes_the_lock(ws: LocalWorkspace) -> None:
    taken: list[str] = []

    class Spy:
        def __enter__(self):
            taken.append("in")

        def __exit__(self, *exc):
            return False

    ws._lock = Spy()  # type: ignore[assignment]
    ws.apply({"op": "remove_node", "node": "/block1/Relu_6"})
    ws.undo()
    ws.redo()
    ws.model_bytes()
    assert len(taken) == 4


def test_large_models_are_validated_structurally_per_edit_and_in_full_on_request(tmp_path) -> None:
    from editor_ui import actions
    from editor_ui.samples import residual_cnn
    from editor_ui.workspace import FULL_VALIDATION_LIMIT
    from modelps import io

    small, large = tmp_path / "small.onnx", tmp_path / "large.onnx"
    io.save(residual_cnn(30), small)
    io.save(residual_cnn(FULL_VALIDATION_LIMIT + 10), large)
    assert LocalWorkspace(small, user="u").model.validation == "full"
    ws = LocalWorkspace(large, user="u")
    assert ws.model.validation == "structure"
    ws.apply({"op": "remove_node", "node": "/block1/Relu_6"})
    outcome = actions.validate(ws)
    assert outcome.ok and outcome.message.startswith("Revision 1 passed full validation")
