"""The UI state in ``st.session_state`` shared by every page: defaults, the open workspace, messages.

Keys: ``user``, ``ws`` (the workspace), ``selected`` (the selected node's name), ``selected_graph`` (the
graph it is in: ``main`` or a subgraph id), ``tensors`` (picked tensor names, at most two),
``canvas_focus`` (a node the canvas should move to), ``flash`` (the last action's message).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from editor_ui import actions
from editor_ui.canvas.doc import CanvasDoc, build_doc
from editor_ui.graph import Types, inferred_types
from editor_ui.workspace import Workspace

__all__ = ["current_doc", "current_types", "flash", "flash_ui", "init_state", "select", "set_workspace"]


def init_state() -> None:
    """Defaults for every key the pages use."""
    defaults: dict[str, Any] = {
        "user": "",
        "ws": None,
        "selected": None,
        "selected_graph": "main",
        "tensors": [],
        "canvas_focus": None,
        "flash": None,
        "doc_cache": None,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def flash(outcome: actions.Outcome) -> None:
    """Keep an action's message for the next run."""
    st.session_state.flash = (outcome.ok, outcome.message)


def flash_ui() -> None:
    """Show the last action's message once.

    The slot is there on every run, message or not, so the elements below keep their place in the
    page and the canvas is not drawn afresh.
    """
    slot = st.empty()
    message = st.session_state.flash
    if message:
        ok, text = message
        (slot.success if ok else slot.error)(text)
        st.session_state.flash = None


def set_workspace(ws: Workspace) -> None:
    """Make ``ws`` the open workspace and reset the selection."""
    st.session_state.ws = ws
    st.session_state.selected = None
    st.session_state.selected_graph = "main"
    st.session_state.tensors = []
    st.session_state.canvas_focus = None
    st.session_state.doc_cache = None


def select(node: str | None, graph: str = "main", *, focus: bool = False) -> None:
    """Select ``node`` of ``graph``; with ``focus`` the canvas also moves to it."""
    st.session_state.selected = node
    st.session_state.selected_graph = graph
    if focus and node:
        nonce = (st.session_state.canvas_focus or ("", "", 0))[2] + 1
        st.session_state.canvas_focus = (graph, node, nonce)


def _revision_key(ws: Workspace) -> tuple:
    return (id(ws), ws.revision, len(ws.model.history), ws.model.history[-1] if ws.model.history else None)


def current_doc(ws: Workspace) -> tuple[CanvasDoc, Types]:
    """The canvas document and inferred tensor types of the current revision (rebuilt when the model changes)."""
    key = _revision_key(ws)
    cached = st.session_state.doc_cache
    if cached is None or cached[0] != key:
        with ws.lock:
            types = inferred_types(ws.model.ir)
            doc = build_doc(ws.model.ir, types=types)
        cached = (key, doc, types)
        st.session_state.doc_cache = cached
    return cached[1], cached[2]


def current_types(ws: Workspace) -> Types:
    """Inferred tensor types of the current revision (``{}`` when the model declares them all)."""
    return current_doc(ws)[1]
