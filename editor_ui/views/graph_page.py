"""The Graph page: the canvas with search and overlays, the inspector, one-click edits and the edit form."""

from __future__ import annotations

from typing import Any

import streamlit as st

from editor_ui import actions, overlays
from editor_ui.canvas.component import canvas
from editor_ui.canvas.doc import CanvasDoc, build_doc
from editor_ui.canvas.search import search
from editor_ui.views.state import current_doc, flash, select
from editor_ui.views.widgets import edit_form_ui, inspector_ui, quick_actions_ui, selection, undo_redo_ui
from editor_ui.workspace import Workspace

__all__ = ["graph_page_ui", "handle_event"]

CANVAS_HEIGHT = 760
OVERLAYS = ("Op families", "Latency per node", "Pruning sensitivity", "Diff with a revision")
_FORM_ACTIONS = ("insert_node", "set_attribute", "replace_op", "set_input_shape")


def search_ui(doc: CanvasDoc) -> None:
    """Search box over every graph (subgraphs included); 'Go to match' moves the canvas there."""
    query = st.text_input("Search node, tensor or op type", key="search")
    hits = search(doc, query) if query else []
    if query and not hits:
        st.caption(f"No node, tensor or op type matches {query!r}.")
    if hits:
        pick = st.selectbox(
            f"{len(hits)} match(es)", range(len(hits)), format_func=lambda k: hits[k].label, key=f"hit-{query}"
        )
        if st.button("Go to match", key="go_match"):
            select(hits[pick].node, hits[pick].graph, focus=True)
            st.rerun()


def handle_event(ws: Workspace, key: str, event: dict[str, Any] | None) -> None:
    """Act on a canvas event once: a selection, picked tensors, or an edit from the context menu."""
    if not event:
        return
    seen = st.session_state.setdefault("canvas_seen", {})
    if seen.get(key) == event.get("ts"):
        return
    seen[key] = event.get("ts")
    kind = event.get("type")
    if kind == "select":
        select(event.get("node"), event.get("graph", "main"))
    elif kind == "tensors":
        st.session_state.tensors = list(event.get("tensors") or [])[-2:]
    elif kind == "action":
        action, node, tensor = event.get("action"), event.get("node"), event.get("tensor")
        if node:
            select(node, event.get("graph", "main"))
        if action == "remove_node":
            flash(actions.apply_form(ws, "remove_node", {"node": node}))
        elif action == "add_output":
            tensor = tensor or next(iter(selection(ws).node_outputs), None)
            flash(actions.apply_form(ws, "add_output", {"tensor": tensor}))
        elif action in _FORM_ACTIONS:
            st.session_state["edit_op_graph"] = action
        st.rerun()


def _overlay_ui(ws: Workspace) -> tuple[dict[str, Any] | None, int | None]:
    """The overlay picker; returns the heat map to draw, and the revision to compare with (or ``None``)."""
    mode = st.selectbox("Overlay", OVERLAYS, key="overlay_mode")
    if mode == "Latency per node":
        cache = st.session_state.get("latency_heat")
        token = current_doc(ws)[0].token
        if cache is None or cache[0] != token:
            if not st.button("Measure latency per node (ONNX Runtime CPU)", key="measure_latency"):
                return None, None
            try:
                with st.spinner("Profiling…"), ws.lock:
                    cache = (token, overlays.latency_heat(ws.model.ir))
            except Exception as exc:  # a model ONNX Runtime cannot run: say why, draw no heat
                st.error(f"Cannot profile this model: {exc}")
                return None, None
            st.session_state.latency_heat = cache
        return {"kind": "heat", "label": "latency ms", "values": cache[1], "agg": "sum"}, None
    if mode == "Pruning sensitivity":
        values = overlays.sensitivity_heat(st.session_state.get("genie_result") or {})
        if not values:
            st.caption("Run the genie with pruning (page 'Genie') to see each layer's sensitivity here.")
            return None, None
        return {"kind": "heat", "label": "fidelity loss", "values": values, "agg": "max"}, None
    if mode == "Diff with a revision":
        if ws.revision == 0:
            st.caption("Edit the model first: revision 0 is the base.")
            return None, None
        revision = st.selectbox("Compare with revision", list(range(ws.revision)), key="diff_revision")
        return None, int(revision)
    return None, None


def _old_doc(ws: Workspace, revision: int) -> tuple[CanvasDoc, dict[str, list[str]]]:
    key = (id(ws), revision, current_doc(ws)[0].token)
    cached = st.session_state.get("old_doc")
    if cached is None or cached[0] != key:
        old = ws.materialize(revision)
        with ws.lock:
            cached = (key, build_doc(old), overlays.diff_sets(old, ws.model.ir))
        st.session_state.old_doc = cached
    return cached[1], cached[2]


def canvas_ui(ws: Workspace) -> None:
    """Search, overlays and the canvas (two canvases in step when comparing revisions)."""
    doc, _ = current_doc(ws)
    top = st.columns([3, 2])
    with top[0]:
        search_ui(doc)
    with top[1]:
        heat, compare = _overlay_ui(ws)
    name = st.session_state.selected
    selected = (st.session_state.get("selected_graph", "main"), name) if name else None
    common = {"selected": selected, "tensors": st.session_state.get("tensors"), "focus": st.session_state.canvas_focus}
    view_key = f"{ws.name}-{ws.session_id or id(ws)}"
    if compare is None:
        event = canvas(doc, key="canvas", view_key=view_key, height=CANVAS_HEIGHT, overlay=heat, **common)
        handle_event(ws, "canvas", event)
        return
    old, diff = _old_doc(ws, compare)
    left, right = st.columns(2)
    with left:
        st.caption(f"Revision {compare} · removed in red, changed in amber")
        event = canvas(
            old,
            key="canvas_old",
            view_key=f"{view_key}-r{compare}",
            height=CANVAS_HEIGHT,
            diff={"added": [], "removed": diff["removed"], "changed": diff["changed"]},
            sync=view_key,
            pane="old",
        )
        handle_event(ws, "canvas_old", event if event and event.get("type") == "select" else None)
    with right:
        st.caption(f"Revision {ws.revision} · added in green, changed in amber")
        event = canvas(
            doc,
            key="canvas",
            view_key=view_key,
            height=CANVAS_HEIGHT,
            diff={"added": diff["added"], "removed": [], "changed": diff["changed"]},
            sync=view_key,
            pane="new",
            **common,
        )
        handle_event(ws, "canvas", event)


def graph_page_ui(ws: Workspace) -> None:
    """Graph page: the canvas on the left; inspector, one-click edits and the edit form on the right."""
    left, right = st.columns([3, 1.25])
    with left:
        canvas_ui(ws)
    with right:
        undo_redo_ui(ws, "graph")
        quick_actions_ui(ws)
        with st.container(height=CANVAS_HEIGHT - 150, border=False):
            inspector_ui(ws)
            with st.expander("Edit", expanded=True):
                edit_form_ui(ws, "graph")
