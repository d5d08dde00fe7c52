"""The Streamlit script: page layout only; every action calls a plain function elsewhere.

Run with ``modelps ui``. State lives in ``st.session_state``: ``user``, ``ws`` (the workspace),
``selected`` (the selected node's name, see :mod:`editor_ui.views.state`), ``flash`` (the last
action's message).
"""

from __future__ import annotations

import time

import streamlit as st

from editor_ui import opening, panels
from editor_ui.views import edit_page, genie_page, graph_page, open_page, serve_page, share_page
from editor_ui.views.state import flash, flash_ui, init_state, set_workspace
from editor_ui.workspace import Workspace
from modelps.errors import ModelPSError

PAGES = ("Open", "Graph", "Edit", "Genie", "Serve", "Share")
REFRESH_SECONDS = 2.0


def user_ui() -> str:
    """Ask for the user's name once (or take it from a trusted proxy header); returns it ('' until given)."""
    if st.session_state.user:
        return str(st.session_state.user)
    proxied = opening.user_from_headers(dict(st.context.headers or {}))
    if proxied:
        st.session_state.user = proxied
        return proxied
    st.title("ModelPS")
    st.write("Open, edit, compress and serve ONNX models, alone or as a team.")
    with st.form("who"):
        name = st.text_input("Your name (shown in the edit history)", key="user_name_input")
        if st.form_submit_button("Continue"):
            if name.strip():
                st.session_state.user = name.strip()
                st.rerun()
            else:
                st.error("Please enter a name.")
    return ""


def nav_ui() -> str:
    """Show the page picker in the sidebar, plus the open model's name and revision."""
    ws: Workspace | None = st.session_state.ws
    with st.sidebar:
        st.markdown(f"**ModelPS** · {st.session_state.user}")
        page = st.radio("Page", PAGES, key="page")
        if ws is not None:
            st.caption(
                f"Model: {ws.name} · revision {ws.revision}" + (f" · session {ws.session_id}" if ws.session_id else "")
            )
    return str(page)


def session_link_ui() -> None:
    """Open the shared session named by ``?session=ID`` once per tab."""
    sid = st.query_params.get("session")
    ws = st.session_state.ws
    if not sid or (ws is not None and ws.session_id == sid) or st.session_state.get("tried_session") == sid:
        return
    st.session_state.tried_session = sid
    outcome, new_ws = panels.open_session(sid, user=st.session_state.user)
    flash(outcome)
    if new_ws is not None:
        set_workspace(new_ws)


@st.fragment(run_every=REFRESH_SECONDS)
def live_refresh_ui() -> None:
    """Poll a shared session; rerun the page when someone else added a revision."""
    ws = st.session_state.ws
    if ws is None or ws.session_id is None:
        return
    try:
        changed = ws.refresh()
    except ModelPSError as exc:
        st.caption(f"Refresh failed: {exc}")
        return
    if changed:
        st.session_state.doc_cache = None
        st.rerun(scope="app")
    st.caption(f"Live · revision {ws.revision} · checked {time.strftime('%H:%M:%S')}")


def main() -> None:
    """Lay out the app."""
    st.set_page_config(page_title="ModelPS", page_icon="🧩", layout="wide")
    init_state()
    if not user_ui():
        return
    session_link_ui()
    page = nav_ui()
    ws: Workspace | None = st.session_state.ws
    if ws is not None and ws.session_id is not None:
        with st.sidebar:
            live_refresh_ui()
    if page not in ("Genie", "Serve"):
        flash_ui()
    if page == "Open":
        open_page.open_ui()
    elif ws is None:
        st.info("Open a model first (page 'Open').")
    elif page == "Graph":
        graph_page.graph_page_ui(ws)
    elif page == "Edit":
        edit_page.edit_page_ui(ws)
    elif page == "Genie":
        genie_page.genie_ui(ws)
    elif page == "Serve":
        serve_page.serve_ui(ws)
    elif page == "Share":
        share_page.share_ui(ws)


if __name__ == "__main__":
    main()
