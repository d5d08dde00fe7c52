"""Foreign models in the editor: the Graph page opens each one (AppTest), with its canvas and no exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from editor_ui.workspace import LocalWorkspace
from tests.corpus.conftest import ALL

APP = str(Path(__file__).resolve().parents[2] / "editor_ui" / "app.py")


@pytest.mark.parametrize("foreign", ALL, indirect=True)
def test_editor_opens_the_model_on_the_graph_page(foreign) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state.user = "ana"
    at.session_state.ws = LocalWorkspace(foreign.path, user="ana", name=foreign.name)
    at.run()
    at.sidebar.radio(key="page").set_value("Graph").run()
    assert not at.exception, at.exception
    assert [c.key for c in at.get("component_instance")] == ["canvas"]
    assert not at.error, [e.value for e in at.error]
