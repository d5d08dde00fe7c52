"""The Streamlit script: page layout only; every action calls a plain function elsewhere.

Run with ``modelps ui``. State lives in ``st.session_state``: ``user``, ``ws`` (the workspace),
``selected`` (the selected node's name), ``focus`` (the graph view's centre), ``flash`` (the last
action's message).
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from editor_ui import actions, forms, graph, inspector, opening, panels, revdiff
from editor_ui.workspace import Workspace
from modelps.errors import ModelPSError

PAGES = ("Open", "Graph", "Edit", "Genie", "Serve", "Share")
REFRESH_SECONDS = 2.0


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


def set_workspace(ws: Workspace) -> None:
    """Make ``ws`` the open workspace and reset the view."""
    st.session_state.ws = ws
    st.session_state.selected = None
    st.session_state.focus = None
    st.session_state.focus_fallback = None
    st.session_state.graph_cache = None
    st.session_state.search_hits = []


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


def current_graph(ws: Workspace) -> graph.GraphData:
    """Return the graph data of the current revision (rebuilt only when the model changes)."""
    key = (id(ws), ws.revision, ws.model.history[-1] if ws.model.history else None)
    cached = st.session_state.graph_cache
    if cached is None or cached[0] != key:
        cached = (key, graph.build_graph(ws.model.ir))
        st.session_state.graph_cache = cached
    return cached[1]


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


def keep_place(data: graph.GraphData) -> None:
    """Before an edit: centre the next view on the selected node, or a neighbour if the edit removes it."""
    name = st.session_state.selected
    index = data.index(name) if name else None
    if index is None:
        return
    st.session_state.focus = name
    neighbours = [s for s, d, _, _ in data.edges if d == index] + [d for s, d, _, _ in data.edges if s == index]
    st.session_state.focus_fallback = data.nodes[neighbours[0]].label if neighbours else None


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


def model_cost(ws: Workspace) -> str:
    """Return ", N GFLOPs" for the current revision (``modelps.inspect``, cached per revision), or ''."""
    data = current_graph(ws)
    if len(data.nodes) > 1000:  # summarize() runs shape inference: about 1 s per 4,000 nodes here
        return ""
    key = data.token
    cached = st.session_state.get("cost_cache")
    if cached is None or cached[0] != key:
        try:
            from modelps.inspect import summarize

            flops = summarize(ws.model.ir).flops
            text = f", {flops / 1e9:.3g} GFLOPs" if flops else ""
        except Exception:  # cost estimation is best effort
            text = ""
        cached = (key, text)
        st.session_state.cost_cache = cached
    return cached[1]


def inspector_ui(ws: Workspace) -> None:
    """Attributes, tensors and initializer statistics of the selected node."""
    name = st.session_state.selected
    if not name:
        st.info("Click a node in the graph (or search) to inspect it.")
        summary = inspector.model_summary(ws.model.ir)
        cost = model_cost(ws)
        ops = ", ".join(f"{op} {n}" for op, n in list(summary["op_counts"].items())[:8])
        ins = ", ".join(f"`{k}` {v}" for k, v in summary["inputs"].items())
        outs = ", ".join(f"`{k}` {v}" for k, v in summary["outputs"].items())
        st.markdown(
            f"**{summary['nodes']:,} nodes**, {summary['parameters']:,} parameters{cost}, "
            f"opset {summary['opset']}  \nInputs: {ins}  \nOutputs: {outs}  \nOps: {ops}"
        )
        return
    try:
        info = inspector.node_info(ws.model.ir, name)
    except KeyError:
        st.warning(f"Node {name!r} is no longer in the model.")
        return
    st.subheader(f"{info.op} · {info.name}")
    data = current_graph(ws)
    if len(data.nodes) > graph.FULL_VIEW_LIMIT and st.button("Focus here", key="focus_here"):
        st.session_state.focus = name
        st.rerun()
    if info.attributes:
        st.markdown(inspector.attributes_markdown(info))
    for title, tensors in (("Inputs", info.inputs), ("Outputs", info.outputs)):
        if tensors:
            st.markdown(f"**{title}**\n\n" + inspector.tensors_markdown(tensors))
    for tensor in info.inputs:
        if tensor.stats is not None:
            s = tensor.stats
            with st.expander(f"Initializer {tensor.name}: {list(s.shape)} {s.dtype}", expanded=False):
                st.write({"min": s.min, "max": s.max, "mean": s.mean, "std": s.std, "zeros": s.zeros})
                centres = [(a + b) / 2 for a, b in zip(s.edges[:-1], s.edges[1:], strict=True)]
                st.bar_chart(
                    {"value": [f"{c:.3g}" for c in centres], "count": list(s.counts)}, x="value", y="count", height=180
                )


def edit_form_ui(ws: Workspace, where: str) -> None:
    """Show a form for any registered edit, pre-filled from the selected node."""
    names = forms.edit_names()
    default = names.index("remove_node") if "remove_node" in names else 0
    op = st.selectbox("Edit", names, index=default, key=f"edit_op_{where}")
    doc = forms.edit_doc(op)
    first, _, rest = doc.partition(". ")
    st.caption(first + ("." if rest else ""))
    if rest:
        with st.popover("What it handles and refuses"):
            st.write(rest)
    selected = st.session_state.selected
    prefill = forms.prefill(op, selected, None)
    keys: dict[str, str] = {}
    for field in forms.form_fields(op):
        key = keys[field.name] = f"f-{where}-{op}-{field.name}-{selected}"
        label = field.name + ("" if field.required else " (optional)")
        if field.kind == "bool":
            st.checkbox(label, value=bool(field.default), key=key)
        elif field.kind == "choice":
            choices = list(field.choices)
            index = choices.index(field.default) if field.default in choices else 0
            st.selectbox(label, choices, index=index, key=key)
        else:
            st.text_input(label, value=str(prefill.get(field.name) or ""), key=key, help=field.help or None)
    st.button("Apply edit", key=f"apply_{where}", type="primary", on_click=apply_cb, args=(ws, op, keys))


def apply_cb(ws: Workspace, op: str, keys: dict[str, str]) -> None:
    """Apply the edit form's values (a button callback: the page then draws once, with the result)."""
    values = {name: st.session_state.get(key) for name, key in keys.items()}
    keep_place(current_graph(ws))
    flash(actions.apply_form(ws, op, values))


def undo_redo_ui(ws: Workspace, where: str) -> None:
    """Undo and redo buttons."""
    left, right = st.columns(2)
    left.button(
        "Undo",
        key=f"undo_{where}",
        disabled=ws.revision == 0,
        use_container_width=True,
        on_click=lambda: flash(actions.undo(ws)),
    )
    right.button(
        "Redo",
        key=f"redo_{where}",
        disabled=not ws.can_redo(),
        use_container_width=True,
        on_click=lambda: flash(actions.redo(ws)),
    )


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


def edit_page_ui(ws: Workspace) -> None:
    """Edit page: forms, undo/redo, history, diff between revisions, downloads."""
    left, right = st.columns([2, 3])
    with left:
        undo_redo_ui(ws, "edit")
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
    """Download the current model and its recipe."""
    st.subheader("Download")
    left, right = st.columns(2)
    left.download_button(
        "Model (.onnx)",
        data=ws.model.to_bytes,
        file_name=f"{ws.name}-r{ws.revision}.onnx",
        mime="application/octet-stream",
        key="dl_model",
    )
    right.download_button(
        "Recipe (.json)",
        data=actions.recipe_json(ws),
        file_name=f"{ws.name}-recipe.json",
        mime="application/json",
        key="dl_recipe",
    )


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
        go = st.form_submit_button("Search")
    if go:
        bar = st.progress(0.0, text="Starting the search…")

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        request = panels.GenieRequest(
            backend,
            target if mode == "speed-up" else None,
            target if mode != "speed-up" else None,
            floor,
            float(budget),
            tuple(methods),
        )
        outcome, result = panels.run_genie(ws, request, progress)
        bar.progress(1.0, text="Done")
        flash(outcome)
        st.session_state.genie_result = result
    flash_ui()
    result = st.session_state.get("genie_result")
    if result:
        genie_results_ui(ws, result)


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
    st.code(f"?session={ws.session_id}", language=None)
    st.caption("Send the app's address with this query to your team.")
    st.dataframe(panels.member_rows(ws), hide_index=True, key="members")
    c1, c2, c3 = st.columns([2, 1, 1])
    who = c1.text_input("User", key="grant_user")
    role = c2.selectbox("Role", ["editor", "viewer"], key="grant_role")
    if c3.button("Grant", key="grant") and who.strip():
        flash(panels.grant(ws, who.strip(), role))
        st.rerun()


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
        st.session_state.graph_cache = None
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
        open_ui()
    elif ws is None:
        st.info("Open a model first (page 'Open').")
    elif page == "Graph":
        graph_page_ui(ws)
    elif page == "Edit":
        edit_page_ui(ws)
    elif page == "Genie":
        genie_ui(ws)
    elif page == "Serve":
        serve_ui(ws)
    elif page == "Share":
        share_ui(ws)


if __name__ == "__main__":
    main()
