"""The Edit page: edit forms, a recipe box, history, the diff between revisions and downloads."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from editor_ui import actions, downloads, revdiff
from editor_ui.views.state import flash
from editor_ui.views.widgets import edit_form_ui, inspector_ui, undo_redo_ui
from editor_ui.workspace import Workspace
from modelps.errors import ModelPSError

__all__ = ["edit_page_ui"]


def edit_page_ui(ws: Workspace) -> None:
    """Edit page: forms, undo/redo, history, diff between revisions, downloads."""
    left, right = st.columns([2, 3])
    with left:
        undo_redo_ui(ws, "edit")
        level = ws.model.validation
        st.caption(
            f"Each edit is validated at the '{level}' level"
            + ("; validate in full before you save." if level == "structure" else ".")
        )
        st.button("Validate in full", key="validate_full", on_click=lambda: flash(actions.validate(ws)))
        edit_form_ui(ws, "edit")
        with st.expander("Apply a recipe (JSON)"):
            text = st.text_area("Recipe", key="recipe_text", height=150)
            if st.button("Apply recipe", key="apply_recipe") and text.strip():
                flash(actions.apply_recipe_text(ws, text))
                st.rerun()
    with right:
        history_ui(ws)
        diff_ui(ws)
        downloads_ui(ws)
        with st.expander("Inspector", expanded=bool(st.session_state.selected)):
            inspector_ui(ws)


def history_ui(ws: Workspace) -> None:
    """Show the history table (revision, author, time, edit)."""
    st.subheader("History")
    st.dataframe(actions.history_rows(ws), hide_index=True, key="history_table")


def diff_ui(ws: Workspace) -> None:
    """Compare any two revisions."""
    st.subheader("Diff")
    revisions = list(range(ws.revision + 1))
    a_col, b_col = st.columns(2)
    a = a_col.selectbox("From revision", revisions, index=max(0, len(revisions) - 2), key="diff_a")
    b = b_col.selectbox("To revision", revisions, index=len(revisions) - 1, key="diff_b")
    if st.button("Show diff", key="show_diff"):
        try:
            result = revdiff.diff_models(ws.materialize(a), ws.materialize(b))
        except ModelPSError as exc:
            st.error(str(exc))
            return
        st.markdown(f"**{a} → {b}:** {result['summary']}")
        from modelps.diff import diff as model_diff

        st.code(model_diff(ws.materialize(a), ws.materialize(b)).to_text(), language=None)


def downloads_ui(ws: Workspace) -> None:
    """Download the current model (written to a file first, with progress) and its recipe."""
    st.subheader("Download")
    left, right = st.columns(2)
    key = (id(ws), ws.revision, len(ws.model.history))
    ready = st.session_state.get("download_ready")
    with left:
        if ready is not None and ready[0] == key and Path(ready[1]).exists():
            st.download_button(
                "Model (.onnx)",
                data=Path(ready[1]).read_bytes(),
                file_name=f"{ws.name}-r{ws.revision}.onnx",
                mime="application/octet-stream",
                key="dl_model",
            )
        elif st.button("Prepare model download", key="prepare_download"):
            bar = st.progress(0.0, text="Writing the model…")
            try:
                path = downloads.prepare_model_file(ws, lambda f, text: bar.progress(f, text=text))
            except ModelPSError as exc:
                st.error(f"Cannot save the model: {exc}")
                return
            st.session_state.download_ready = (key, str(path))
            st.rerun()
    right.download_button(
        "Recipe (.json)",
        data=actions.recipe_json(ws),
        file_name=f"{ws.name}-recipe.json",
        mime="application/json",
        key="dl_recipe",
    )
