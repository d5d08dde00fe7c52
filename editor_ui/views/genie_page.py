"""The Genie page: the requirement form, progress, the latency/fidelity scatter and the candidates."""

from __future__ import annotations

from typing import Any

import streamlit as st

from editor_ui import panels
from editor_ui.views.state import flash, flash_ui
from editor_ui.workspace import Workspace

__all__ = ["genie_ui"]


def genie_ui(ws: Workspace) -> None:
    """Genie page: requirement form, progress, scatter with Pareto front, candidates, apply."""
    st.header("Model genie")
    if not panels.genie_available():
        st.info("The genie is not installed here yet.")
        return
    with st.form("genie_form"):
        c1, c2, c3 = st.columns(3)
        backend = c1.selectbox("Backend", ["ort-cpu", "ort-cuda", "ort-trt", "tensorrt"], key="g_backend")
        mode = c2.radio("Target", ["speed-up", "latency (ms)"], horizontal=True, key="g_mode")
        target = c3.number_input("Target value", min_value=0.01, value=1.5, key="g_target")
        c4, c5, c6 = st.columns(3)
        floor = c4.number_input("Fidelity floor (centered cosine)", 0.0, 1.0, 0.99, key="g_floor")
        budget = c5.number_input("Budget (seconds)", 5, 3600, 60, key="g_budget")
        methods = c6.multiselect("Methods", ["quantize", "prune"], default=["quantize", "prune"], key="g_methods")
        with st.expander("Calibration data and fine-tuning"):
            upload = st.file_uploader(
                "Calibration inputs (.npz, one array per model input, samples along the first axis; "
                "default: bundled sample photos)",
                type=["npz"],
                key="g_calib",
            )
            a1, a2, a3 = st.columns(3)
            samples = a1.number_input("Calibration samples", 1, 1024, 16, key="g_calib_n")
            tune = a2.selectbox("Fine-tuning", ["automatic", "off", "steps"], key="g_tune")
            steps = a3.number_input("Fine-tuning steps", 1, 5000, 300, key="g_steps")
            mixed = st.checkbox("Mixed precision (keep the most sensitive layers in float)", True, key="g_mixed")
        go = st.form_submit_button("Search")
    if go and st.session_state.get("genie_job") is None:
        try:
            calib = panels.store_calibration(ws, upload.getvalue(), upload.name) if upload else "samples"
        except panels.CalibrationError as exc:
            st.error(str(exc))
            return
        request = panels.GenieRequest(
            backend,
            target if mode == "speed-up" else None,
            target if mode != "speed-up" else None,
            floor,
            float(budget),
            tuple(methods),
            calib=calib,
            calib_samples=int(samples),
            finetune_steps={"automatic": None, "off": 0}.get(tune, int(steps)),
            mixed_precision=mixed,
        )
        st.session_state.genie_job = panels.GenieJob(ws, request).start()
    job_ui()
    flash_ui()
    result = st.session_state.get("genie_result")
    if result:
        genie_results_ui(ws, result)


def eta_text(job: panels.GenieJob) -> str:
    """``stage: done/total · 12 s elapsed · about 30 s left`` for the progress bar."""
    eta = job.eta_s()
    left = f" · about {eta:.0f} s left" if eta is not None else ""
    return f"{job.text} · {job.elapsed_s():.0f} s elapsed{left}"


def job_ui(poll_s: float = 0.25) -> None:
    """Follow the running search: progress, ETA and a Cancel button; store its result when it ends.

    The run polls until the search ends; clicking Cancel interrupts it (Streamlit reruns the page),
    and the new run cancels the search.
    """
    job: panels.GenieJob | None = st.session_state.get("genie_job")
    if job is None:
        return
    cancel = st.button("Cancel", key="genie_cancel")
    if cancel and not job.done:
        with st.spinner("Cancelling…"):
            job.cancel()
    bar = st.progress(job.fraction, text=eta_text(job))
    while not job.wait(poll_s):
        bar.progress(job.fraction, text=eta_text(job))
    bar.progress(1.0, text=f"Done in {job.elapsed_s():.0f} s")
    st.session_state.genie_job = None
    if job.outcome is not None:
        flash(job.outcome)
    if job.result is not None:
        st.session_state.genie_result = job.result
    st.rerun()


def genie_results_ui(ws: Workspace, result: dict[str, Any]) -> None:
    """Show the scatter, the table and the apply buttons for a genie result."""
    rows = panels.candidate_rows(result)
    if result.get("message"):
        st.info(f"Genie: {result['message']}")
    if not rows:
        st.warning("The search found no candidate.")
        return
    baseline = (result.get("baseline") or {}).get("latency_ms")
    st.echarts_chart(panels.pareto_spec(rows, baseline_ms=baseline), key="genie_scatter", height=360)
    st.dataframe(rows, hide_index=True, key="genie_table")
    labels = [f"#{r['candidate']}: {r['speedup']:.2f}x, fidelity {r['fidelity']:.4f}" for r in rows]
    pick = st.selectbox("Candidate", range(len(rows)), format_func=lambda k: labels[k], key="genie_pick")
    st.caption(rows[pick]["explanation"])
    if st.button("Apply candidate", key="genie_apply", type="primary"):
        flash(panels.apply_candidate(ws, result, rows[pick]["candidate"]))
        st.rerun()
