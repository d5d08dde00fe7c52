"""The UI state in ``st.session_state`` shared by every page: defaults, the open workspace, messages.

Keys: ``user``, ``ws`` (the workspace), ``selected`` (the selected node's name), ``focus`` (where the
graph view was last centred), ``flash`` (the last action's message).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from editor_ui import actions, graph
from editor_ui.workspace import Workspace

__all__ = ["current_graph", "flash", "flash_ui", "init_state", "set_workspace"]


def init_state() -> None:
    """Defaults for every key the pages use."""
    defaults: dict[str, Any] = {
        "user": "",
        "ws": None,
        "selected": None,
        "focus": None,
        "flash": None,
        "show_all": False,
        "graph_cache": None,
        "search_hits": [],
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def flash(outcome: actions.Outcome) -> None:
    """Keep an action's message for the next run."""
    st.session_state.flash = (outcome.ok, outcome.message)


def flash_ui() -> None:
    """Show the last action's message once."""
    message = st.session_state.flash
    if message:
        ok, text = message
        (st.success if ok else st.error)(text)
        st.session_state.flash = None


def set_workspace(ws: Workspace) -> None:
    """Make ``ws`` the open workspace and reset the view."""
    st.session_state.ws = ws
    st.session_state.selected = None
    st.session_state.focus = None
    st.session_state.focus_fallback = None
    st.session_state.graph_cache = None
    st.session_state.search_hits = []


def current_graph(ws: Workspace) -> graph.GraphData:
    """Return the graph data of the current revision (rebuilt only when the model changes)."""
    key = (id(ws), ws.revision, ws.model.history[-1] if ws.model.history else None)
    cached = st.session_state.graph_cache
    if cached is None or cached[0] != key:
        cached = (key, graph.build_graph(ws.model.ir))
        st.session_state.graph_cache = cached
    return cached[1]
