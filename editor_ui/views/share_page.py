"""The Share page: start a shared session, its link, members and roles."""

from __future__ import annotations

import streamlit as st

from editor_ui import panels
from editor_ui.views.state import flash, set_workspace
from editor_ui.workspace import Workspace

__all__ = ["share_ui"]


def share_ui(ws: Workspace) -> None:
    """Share page: the session link, members and roles."""
    st.header("Share")
    if not panels.sessions_available():
        st.info("Shared sessions need the session store, which is not installed here yet.")
        return
    if ws.session_id is None:
        st.write("This model is only open in your browser. Share it to edit it together.")
        if st.button("Start a shared session", key="start_share", type="primary"):
            outcome, shared = panels.share_workspace(ws)
            flash(outcome)
            if shared is not None:
                set_workspace(shared)
                st.query_params["session"] = shared.session_id or ""
                st.session_state.tried_session = shared.session_id
            st.rerun()
        return
    link = panels.share_link(st.context.url, ws.session_id)
    st.code(link, language=None)
    st.caption("Send this link to your team: the copy button is at the right of the link.")
    st.dataframe(panels.member_rows(ws), hide_index=True, key="members")
    c1, c2, c3 = st.columns([2, 1, 1])
    who = c1.text_input("User", key="grant_user")
    role = c2.selectbox("Role", ["editor", "viewer"], key="grant_role")
    if c3.button("Grant", key="grant") and who.strip():
        flash(panels.grant(ws, who.strip(), role))
        st.rerun()
