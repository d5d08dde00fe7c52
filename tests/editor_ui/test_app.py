"""AppTest tests of the Streamlit script: each page's wiring, without a browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from editor_ui.workspace import LocalWorkspace

APP = str(Path(__file__).resolve().parents[2] / "editor_ui" / "app.py")


def _app(user: str | None = "alice", ws: LocalWorkspace | None = None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if user:
        at.session_state.user = user
    if ws is not None:
        at.session_state.ws = ws
    at.run()
    if page:
        at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [s.value for s in at.success] + [e.value for e in at.error]
    parts += [i.value for i in at.info] + [c.value for c in at.caption] + [h.value for h in at.subheader]
    return "\n".join(str(p) for p in parts)


def test_user_name_is_asked_once() -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.text_input(key="user_name_input") is not None and not at.sidebar.radio
    at.button[0].click().run()
    assert "Please enter a name." in [e.value for e in at.error]
    at.text_input(key="user_name_input").input("  dana ")
    at.button[0].click().run()
    assert at.session_state.user == "dana"
    assert at.sidebar.radio(key="page").value == "Open"
    at.run()
    assert not [t for t in at.text_input if t.key == "user_name_input"]


def test_pages_need_a_model() -> None:
    at = _app(page="Graph")
    assert "Open a model first (page 'Open')." in _texts(at)


def test_graph_page_search_selects_and_inspects(ws: LocalWorkspace) -> None:
    at = _app(ws=ws, page="Graph")
    assert len(at.get("echarts_chart")) == 1
    at.text_input(key="search").input("Gemm").run()
    at.button(key="go_match").click().run()
    assert at.session_state.selected == "/block5/Gemm_29"
    assert "Gemm · /block5/Gemm_29" in _texts(at)
    assert at.text_input(key="f-graph-remove_node-node-/block5/Gemm_29").value == "/block5/Gemm_29"


def test_search_without_match_says_so(ws: LocalWorkspace) -> None:
    at = _app(ws=ws, page="Graph")
    at.text_input(key="search").input("Softmax").run()
    assert "No node, tensor or op type matches 'Softmax'." in _texts(at)


def test_edit_undo_redo_from_the_graph_page(ws: LocalWorkspace) -> None:
    at = _app(ws=ws, page="Graph")
    at.session_state.selected = "/block1/Relu_6"
    at.run()
    at.button(key="apply_graph").click().run()
    assert "Applied remove_node(node='/block1/Relu_6') as revision 1" in _texts(at)
    assert ws.revision == 1 and "/block1/Relu_6" not in ws.model.nodes_named()
    assert at.session_state.focus == "/block1/Relu_6"  # the view stays where the user worked
    at.button(key="undo_graph").click().run()
    assert "Undid remove_node(node='/block1/Relu_6')" in _texts(at) and ws.revision == 0
    at.button(key="redo_graph").click().run()
    assert ws.revision == 1


def test_refused_edit_shows_the_reason(ws: LocalWorkspace) -> None:
    at = _app(ws=ws, page="Graph")
    at.session_state.selected = "/block1/Add_10"
    at.run()
    at.button(key="apply_graph").click().run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Refused: remove_node:")
    assert ws.revision == 0


def test_other_edit_forms_are_generated(ws: LocalWorkspace) -> None:
    at = _app(ws=ws, page="Edit")
    at.selectbox(key="edit_op_edit").set_value("add_output").run()
    at.text_input(key="f-edit-add_output-tensor-None").input("/block1/Conv_7_output_0").run()
    at.button(key="apply_edit").click().run()
    assert ws.revision == 1 and "/block1/Conv_7_output_0" in [v.name for v in ws.model.ir.graph.outputs]


def test_edit_page_history_diff_and_recipe(ws: LocalWorkspace) -> None:
    ws.apply({"op": "remove_node", "node": "/block1/Relu_6"})
    at = _app(ws=ws, page="Edit")
    table = at.dataframe[0].value
    assert list(table["revision"]) == [1, 0] and table["author"][0] == "alice"
    at.selectbox(key="diff_a").set_value(0)
    at.selectbox(key="diff_b").set_value(1)
    at.button(key="show_diff").click().run()
    assert "**0 → 1:** 1 node removed, 2 nodes changed" in _texts(at)
    at.text_area(key="recipe_text").input('{"modelps_recipe": 1, "edits": [{"op": "remove_node", "node": "x9"}]}')
    at.button(key="apply_recipe").click().run()
    assert "edit #1 refused: remove_node: no node named 'x9'" in _texts(at)


@pytest.fixture
def private_db(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPS_DB", f"sqlite:///{tmp_path / 'sessions.db'}")
    monkeypatch.setenv("MODELPS_BLOBS", str(tmp_path / "blobs"))


def test_share_page_and_session_link(ws: LocalWorkspace, private_db: None) -> None:
    at = _app(ws=ws, page="Share")
    at.button(key="start_share").click().run()
    shared = at.session_state.ws
    assert shared.session_id and at.query_params["session"] in (shared.session_id, [shared.session_id])
    assert f"?session={shared.session_id}" in [c.value for c in at.code]
    at.text_input(key="grant_user").input("bob")
    at.button(key="grant").click().run()
    assert "bob is now editor" in _texts(at)
    bob = AppTest.from_file(APP, default_timeout=60)
    bob.query_params["session"] = shared.session_id
    bob.session_state.user = "bob"
    bob.run()
    assert bob.session_state.ws.session_id == shared.session_id
    assert f"Opened shared session {shared.session_id} at revision 0" in _texts(bob)


def test_unknown_session_link_is_reported(private_db: None) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["session"] = "0123456789ab"
    at.session_state.user = "alice"
    at.run()
    assert at.session_state.ws is None
    assert any(e.value.startswith("Cannot open session 0123456789ab") for e in at.error)
