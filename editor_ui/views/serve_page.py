"""The Serve page: build and publish, start and stop the local server, try the served model."""

from __future__ import annotations

import streamlit as st

from editor_ui import panels
from editor_ui.views.state import flash, flash_ui
from editor_ui.workspace import Workspace

__all__ = ["serve_ui"]


def serve_ui(ws: Workspace) -> None:
    """Serve page: build, publish, start/stop the local server, try it."""
    st.header("Serve")
    if not panels.serving_available():
        st.info("Serving is not installed here yet.")
        return
    state = panels.server_state()
    c1, c2 = st.columns(2)
    with c1:
        st.subheader("Publish")
        name = st.text_input("Model name in the repository", value=panels.safe_name(ws.name), key="serve_name")
        backend = st.selectbox("Backend", ["ort-cpu", "ort-cuda", "ort-trt", "tensorrt"], key="serve_backend")
        if st.button("Build and publish", key="publish", type="primary"):
            with st.spinner("Building…"):
                flash(panels.publish(ws, name, backend))
            st.rerun()
        st.caption(f"Repository: {panels.repository()}")
    with c2:
        st.subheader("Local server")
        if state.running:
            st.success(f"Running at {state.url}")
            if st.button("Stop server", key="stop_server"):
                flash(panels.stop_server())
                st.rerun()
        else:
            st.caption("Not running.")
            if st.button("Start server", key="start_server"):
                flash(panels.start_server())
                st.rerun()
    flash_ui()
    st.subheader("Try it")
    models = panels.served_models() if state.running else []
    if not models:
        st.caption("Publish a model and start the server to try it.")
        return
    target = st.selectbox("Served model", models, key="try_model")
    image = st.file_uploader("Image (optional; random input otherwise)", type=["png", "jpg", "jpeg"], key="try_image")
    if st.button("Run", key="try_run"):
        outcome, result = panels.try_model(target, image.getvalue() if image is not None else None)
        (st.success if outcome.ok else st.error)(outcome.message)
        if result:
            st.metric("Latency (ms, one request over HTTP)", f"{result['latency_ms']:.1f}")
            st.dataframe(result["outputs"], hide_index=True)
