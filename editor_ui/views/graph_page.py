"""The Graph page: the graph view, search, the inspector and a quick edit form."""

from __future__ import annotations

import streamlit as st

from editor_ui import graph
from editor_ui.views.state import current_graph
from editor_ui.views.widgets import edit_form_ui, inspector_ui, undo_redo_ui
from editor_ui.workspace import Workspace

__all__ = ["graph_page_ui"]


def search_ui(data: graph.GraphData) -> None:
    """Search box: jump to a node by name, tensor name or op type."""
    query = st.text_input("Search node, tensor or op type", key="search")
    hits = graph.search(data, query) if query else []
    if query and not hits:
        st.caption(f"No node, tensor or op type matches {query!r}.")
    if hits:
        labels = [f"{data.nodes[i].label} ({data.nodes[i].op})" for i in hits]
        pick = st.selectbox(
            f"{len(hits)} match(es)", range(len(hits)), format_func=lambda k: labels[k], key=f"hit-{query}"
        )
        if st.button("Go to match", key="go_match"):
            st.session_state.selected = data.nodes[hits[pick]].label
            st.session_state.focus = data.nodes[hits[pick]].label
            st.rerun()


def focus_index(data: graph.GraphData) -> int | None:
    """Return the graph view's centre: the focus node, else its remembered neighbour, else none (the top)."""
    for label in (st.session_state.focus, st.session_state.get("focus_fallback")):
        if label:
            index = data.index(label)
            if index is not None:
                return index
    return None


def graph_ui(ws: Workspace) -> None:
    """Show the interactive graph; a click selects a node."""
    data = current_graph(ws)
    search_ui(data)
    focus = focus_index(data)
    big = len(data.nodes) > graph.FULL_VIEW_LIMIT
    if big:
        st.session_state.show_all = st.toggle(f"Show all {len(data.nodes)} nodes (slow)", key="show_all_toggle")
    view_key = (data.token, focus, st.session_state.show_all)
    cached = st.session_state.get("view_cache")
    if cached is None or cached[0] != view_key:
        view = graph.make_view(data, focus, show_all=st.session_state.show_all)
        cached = (view_key, view, graph.echarts_spec(data, view))
        st.session_state.view_cache = cached
    view, spec = cached[1], cached[2]
    if not view.complete:
        centre = data.nodes[view.focus if view.focus is not None else 0].label
        st.caption(
            f"{len(data.nodes)} nodes: showing {len(view.members)} around {centre!r}. "
            "Search or select a node and press 'Focus here' to move."
        )
    key = f"graph-{data.token}-{view.focus}-{len(view.members)}"
    event = st.echarts_chart(spec, key=key, on_select="rerun", height=graph.CHART_HEIGHT)
    indices = [
        i
        for group in event.selection.selected
        if group.get("data_type") in ("node", "main")
        for i in group["data_indices"]
    ]
    picked = graph.selected_node(view, indices)
    last = st.session_state.get("last_pick")
    if picked is not None and (key, picked) != last:
        st.session_state.last_pick = (key, picked)
        st.session_state.selected = data.nodes[picked].label  # the inspector and forms are drawn after this


def graph_page_ui(ws: Workspace) -> None:
    """Graph page: the view on the left, inspector and a quick edit form on the right."""
    left, right = st.columns([3, 2])
    with left:
        graph_ui(ws)
    with right:
        undo_redo_ui(ws, "graph")
        inspector_ui(ws)
        with st.expander("Edit", expanded=True):
            edit_form_ui(ws, "graph")
