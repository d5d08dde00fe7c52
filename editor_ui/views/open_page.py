"""The Open page: upload an ONNX file, export a zoo model, or open a shared session."""

from __future__ import annotations

import streamlit as st

from editor_ui import actions, opening, panels
from editor_ui.views.state import flash, set_workspace
from modelps.errors import ModelPSError

__all__ = ["open_ui"]


def open_ui() -> None:
    """Open page: upload, zoo export, or a shared session."""
    st.header("Open a model")
    upload_tab, zoo_tab, session_tab = st.tabs(["Upload ONNX", "Model zoo", "Shared session"])
    with upload_tab:
        st.caption(f"Up to {opening.max_upload_mb()} MB. External-data models: open them with the CLI.")
        file = st.file_uploader("ONNX model", type=["onnx"], key="upload")
        if file is not None:
            st.button("Open uploaded model", key="open_upload", on_click=open_upload_cb)
    with zoo_tab:
        zoo_open_ui()
    with session_tab:
        share_open_ui()


def open_upload_cb() -> None:
    """Open the uploaded file (a button callback, so the page draws once with the result)."""
    file = st.session_state.get("upload")
    if file is None:
        return
    try:
        set_workspace(opening.open_upload(file.name, file.getvalue(), user=st.session_state.user))
        flash(actions.Outcome(True, f"Opened {file.name}"))
    except ModelPSError as exc:
        flash(actions.Outcome(False, f"Cannot open: {exc}"))


def zoo_open_ui() -> None:
    """Show the zoo tab: pick a model, weights or a checkpoint, export and open."""
    models = opening.zoo_models()
    if not models:
        st.info("The model zoo is not installed here (it needs torch: pip install 'modelps[zoo]').")
        return
    names = [m["name"] for m in models]
    st.dataframe(models, hide_index=True)
    name = st.selectbox("Zoo model", names, key="zoo_name")
    weights = st.radio("Weights", ["seeded", "demo", "checkpoint"], horizontal=True, key="zoo_weights")
    ckpt = st.file_uploader("Checkpoint (.pth state dict)", key="zoo_ckpt") if weights == "checkpoint" else None
    if st.button("Export and open", key="zoo_open"):
        try:
            with st.spinner(f"Exporting {name}…"):
                ws = opening.open_zoo(
                    name,
                    user=st.session_state.user,
                    weights="seeded" if weights == "checkpoint" else weights,
                    checkpoint=ckpt.getvalue() if ckpt is not None else None,
                    checkpoint_name=ckpt.name if ckpt is not None else "checkpoint.pth",
                )
            set_workspace(ws)
            flash(actions.Outcome(True, f"Opened zoo model {name}"))
        except ModelPSError as exc:
            flash(actions.Outcome(False, f"Cannot export {name}: {exc}"))
        st.rerun()


def share_open_ui() -> None:
    """Show the shared-session tab: open by id or start sharing the open model."""
    if not panels.sessions_available():
        st.info("Shared sessions need the session store (pip install 'modelps[sessions]').")
        return
    sid = st.text_input("Session id", key="open_session_id")
    if st.button("Open session", key="open_session") and sid.strip():
        st.query_params["session"] = sid.strip()
        st.session_state.tried_session = None
        st.rerun()
