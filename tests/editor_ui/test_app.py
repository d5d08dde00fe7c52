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
    assert [c.key for c in at.get("component_instance")] == ["canvas"]
    at.text_input(key="search").input("Gemm").run()
    at.button(key="go_match").click().run()
    assert at.session_state.selected == "/block5/Gemm_29"
    assert at.session_state.canvas_focus == ("main", "/block5/Gemm_29", 1)  # the canvas moves there
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
    assert at.session_state.selected == "/block1/Relu_6"  # the selection (and so the view) is kept
    at.button(key="undo_graph").click().run()
    assert "Undid remove_node(node='/block1/Relu_6')" in _texts(at) and ws.revision == 0
    at.button(key="redo_graph").click().run()
    assert ws.revision == 1


def test_refused_edit_shows_the_reason(ws: LocalWorkspace) -> None:
    at = _app(ws=ws, page="Graph")
    at.session_state.selected = "/block2/Add_10"
    at.run()
    at.button(key="apply_graph").click().run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Refused: remove_node: node '/block2/Add_10' has 2 non-constant")
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
    (link,) = [c.value for c in at.code]  # regression: only "?session=ID" was shown
    assert link.startswith("http") and link.endswith(f"/?session={shared.session_id}")
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


@pytest.mark.slow
def test_genie_page_searches_and_applies(tmp_path) -> None:
    from editor_ui import panels
    from editor_ui.samples import residual_cnn
    from modelps import io

    if not panels.genie_available():
        pytest.skip("the genie is not installed")
    path = tmp_path / "tiny.onnx"
    io.save(residual_cnn(20, channels=3, size=16), path)
    ws = LocalWorkspace(path, user="alice")
    at = _app(ws=ws, page="Genie")
    at.number_input(key="g_budget").set_value(10)
    at.number_input(key="g_floor").set_value(0.9)
    at.button[0].click().run(timeout=300)
    assert not at.exception, at.exception
    assert any(s.value.startswith("Found ") for s in at.success)
    assert len(at.get("echarts_chart")) == 1  # the latency/fidelity scatter
    table = at.dataframe[0].value
    assert {"latency_ms", "fidelity", "pareto", "explanation"} <= set(table.columns)
    at.button(key="genie_apply").click().run(timeout=120)
    assert ws.revision >= 1
    assert any(s.value.startswith("Applied ") for s in at.success)


def test_serve_page_without_a_server(ws: LocalWorkspace, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from editor_ui import panels

    if not panels.serving_available():
        pytest.skip("serving is not installed")
    monkeypatch.setenv("MODELPS_HOME", str(tmp_path))
    at = _app(ws=ws, page="Serve")
    assert at.text_input(key="serve_name").value == "small"
    texts = _texts(at)
    assert "Not running." in texts and f"Repository: {tmp_path / 'repository'}" in texts
    assert "Publish a model and start the server to try it." in texts


def test_open_page_lists_zoo_models_and_session_tab() -> None:
    from editor_ui import opening

    at = _app(page="Open")
    assert [t.label for t in at.tabs] == ["Upload ONNX", "Model zoo", "Shared session"]
    if opening.zoo_available():
        assert at.selectbox(key="zoo_name").value == "face-mobilefacenet"
        assert list(at.dataframe[0].value["name"])[:1] == ["face-mobilefacenet"]
    assert at.text_input(key="open_session_id") is not None


def test_graph_header_shows_flops_for_small_models(ws: LocalWorkspace) -> None:
    at = _app(ws=ws, page="Graph")
    assert "**30 nodes**" in _texts(at) and "GFLOPs" in _texts(at)


def test_histogram_bins_are_in_numeric_order(ws: LocalWorkspace) -> None:
    """Regression: the weight histogram sorted its bins as text, mirroring the negative half."""
    at = _app(ws=ws, page="Graph")
    at.session_state.selected = "/block0/Conv_0"
    at.run()
    charts = [c for c in at.get("echarts_chart") if "hist-" in str(c.key)]
    assert charts, "no histogram drawn"
    import json

    spec = json.loads(charts[0].proto.spec) if hasattr(charts[0], "proto") else None
    if spec is not None:
        centres = [float(x) for x in spec["xAxis"]["data"]]
        assert centres == sorted(centres) and centres[0] < 0 < centres[-1]


def test_forms_prefill_from_selection_and_the_single_input(ws: LocalWorkspace) -> None:
    """Regression: forms ignored the selection and the model's single input."""
    at = _app(ws=ws, page="Graph")
    at.session_state.selected = "/block1/Relu_6"
    at.session_state.tensors = ["/block0/Relu_3_output_0", "/block2/Relu_11_output_0"]
    at.run()
    at.selectbox(key="edit_op_graph").set_value("set_input_shape").run()
    ident = "/block1/Relu_6+/block0/Relu_3_output_0,/block2/Relu_11_output_0"
    assert at.text_input(key=f"f-graph-set_input_shape-input-{ident}").value == "input"
    at.selectbox(key="edit_op_graph").set_value("extract").run()
    assert at.text_input(key=f"f-graph-extract-inputs-{ident}").value == '["/block0/Relu_3_output_0"]'
    assert at.text_input(key=f"f-graph-extract-outputs-{ident}").value == '["/block2/Relu_11_output_0"]'
    at.selectbox(key="edit_op_graph").set_value("insert_node").run()
    assert at.text_input(key=f"f-graph-insert_node-tensor-{ident}").value == "/block2/Relu_11_output_0"


def test_shape_field_accepts_plain_text(ws: LocalWorkspace) -> None:
    """Regression: the shape field demanded JSON."""
    at = _app(ws=ws, page="Edit")
    at.selectbox(key="edit_op_edit").set_value("set_input_shape").run()
    at.text_input(key="f-edit-set_input_shape-shape-None").input("batch,4,8,8").run()
    at.button(key="apply_edit").click().run()
    assert ws.revision == 1, _texts(at)
    dims = [d if isinstance(d, int) else d.value for d in ws.model.ir.graph.inputs[0].shape]
    assert dims == ["batch", 4, 8, 8]


def test_quick_actions_remove_and_extract(ws: LocalWorkspace) -> None:
    at = _app(ws=ws, page="Graph")
    at.session_state.selected = "/block1/Relu_6"
    at.run()
    at.button(key="quick_remove").click().run()
    assert "Applied remove_node(node='/block1/Relu_6') as revision 1" in _texts(at)
    at.session_state.tensors = ["/block0/Relu_1_output_0", "/block2/Relu_11_output_0"]
    at.run()
    at.button(key="quick_extract").click().run()
    assert ws.revision == 2, _texts(at)
    assert [v.name for v in ws.model.ir.graph.outputs] == ["/block2/Relu_11_output_0"]


def test_model_download_is_prepared_with_progress(ws: LocalWorkspace, tmp_path, monkeypatch) -> None:
    """Regression: large downloads gave no sign of progress (and raced with validation's weight stubs)."""
    monkeypatch.setenv("MODELPS_HOME", str(tmp_path))
    at = _app(ws=ws, page="Edit")
    assert not [b for b in at.get("download_button") if b.proto.label == "Model (.onnx)"]
    at.button(key="prepare_download").click().run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Model (.onnx)" in labels
    assert (tmp_path / "downloads" / "small-r0.onnx").read_bytes() == ws.model.to_bytes()


def _events_script() -> None:
    import streamlit as st

    from editor_ui.views import graph_page
    from editor_ui.views.state import init_state

    init_state()
    for event in st.session_state.events:
        graph_page.handle_event(st.session_state.ws, "canvas", event)


def test_canvas_events_select_pick_and_edit(ws: LocalWorkspace) -> None:
    at = AppTest.from_function(_events_script, default_timeout=60)
    at.session_state.ws = ws
    at.session_state.events = [
        {"type": "select", "graph": "main/x.body", "node": "inner", "kind": "node", "ts": 1},
        {"type": "tensors", "graph": "main", "tensors": ["a", "b", "c"], "ts": 2},
    ]
    at.run()
    assert (at.session_state.selected, at.session_state.selected_graph) == ("inner", "main/x.body")
    assert at.session_state.tensors == ["b", "c"]  # at most two: the last picked
    at.session_state.events = [
        {"type": "action", "action": "remove_node", "graph": "main", "node": "/block1/Relu_6", "ts": 3}
    ]
    at.run()
    assert ws.revision == 1 and "/block1/Relu_6" not in ws.model.nodes_named()
    at.run()  # the same event again (Streamlit hands the last value back on every rerun): applied once
    assert ws.revision == 1
    at.session_state.events = [{"type": "action", "action": "set_attribute", "node": "/block0/Conv_0", "ts": 4}]
    at.run()
    assert at.session_state["edit_op_graph"] == "set_attribute" and at.session_state.selected == "/block0/Conv_0"
