"""Widgets used on more than one page: undo/redo, the generated edit form, the inspector."""

from __future__ import annotations

import streamlit as st

from editor_ui import actions, forms, graph, inspector
from editor_ui.views.state import current_graph, flash
from editor_ui.workspace import Workspace

__all__ = ["edit_form_ui", "inspector_ui", "keep_place", "undo_redo_ui"]


def keep_place(data: graph.GraphData) -> None:
    """Before an edit: centre the next view on the selected node, or a neighbour if the edit removes it."""
    name = st.session_state.selected
    index = data.index(name) if name else None
    if index is None:
        return
    st.session_state.focus = name
    neighbours = [s for s, d, _, _ in data.edges if d == index] + [d for s, d, _, _ in data.edges if s == index]
    st.session_state.focus_fallback = data.nodes[neighbours[0]].label if neighbours else None


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
