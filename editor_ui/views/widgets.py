"""Widgets used on more than one page: undo/redo, the edit form filled from the selection, the inspector."""

from __future__ import annotations

import streamlit as st

from editor_ui import actions, forms, inspector
from editor_ui.views.state import current_doc, flash
from editor_ui.workspace import Workspace

__all__ = ["edit_form_ui", "inspector_ui", "quick_actions_ui", "selection", "undo_redo_ui"]


def selection(ws: Workspace) -> forms.Selection:
    """What the user pointed at, with the selected node's tensors and the model's inputs, for the forms."""
    model = ws.model.ir
    inputs = tuple(v.name for v in model.graph.inputs if v.name and not v.is_initializer())
    name = st.session_state.selected if st.session_state.get("selected_graph", "main") == "main" else None
    node = next((n for n in model.graph if name and n.name == name), None)
    return forms.Selection(
        node=name if node is not None else None,
        tensors=tuple(st.session_state.get("tensors") or ()),
        node_outputs=tuple(v.name for v in node.outputs if v.name) if node is not None else (),
        node_inputs=tuple(v.name for v in node.inputs if v is not None and v.name) if node is not None else (),
        model_inputs=inputs,
    )


def model_cost(ws: Workspace) -> str:
    """Return ", N GFLOPs" for the current revision (``modelps.inspect``, cached per revision), or ''."""
    doc, _ = current_doc(ws)
    if len(ws.model.ir.graph) > 1000:  # summarize() runs shape inference: about 1 s per 4,000 nodes here
        return ""
    cached = st.session_state.get("cost_cache")
    if cached is None or cached[0] != doc.token:
        try:
            from modelps.inspect import summarize

            with ws.lock:
                flops = summarize(ws.model.ir).flops
            text = f", {flops / 1e9:.3g} GFLOPs" if flops else ""
        except Exception:  # cost estimation is best effort
            text = ""
        cached = (doc.token, text)
        st.session_state.cost_cache = cached
    return cached[1]


def _summary_ui(ws: Workspace) -> None:
    doc, _ = current_doc(ws)
    cached = st.session_state.get("summary_cache")
    if cached is None or cached[0] != doc.token:
        cached = (doc.token, inspector.model_summary(ws.model.ir))
        st.session_state.summary_cache = cached
    summary = cached[1]
    cost = model_cost(ws)
    ops = ", ".join(f"{op} {n}" for op, n in list(summary["op_counts"].items())[:8])
    ins = ", ".join(f"`{k}` {v}" for k, v in summary["inputs"].items())
    outs = ", ".join(f"`{k}` {v}" for k, v in summary["outputs"].items())
    st.markdown(
        f"**{summary['nodes']:,} nodes**, {summary['parameters']:,} parameters{cost}, "
        f"opset {summary['opset']}  \nInputs: {ins}  \nOutputs: {outs}  \nOps: {ops}"
    )


def inspector_ui(ws: Workspace) -> None:
    """Attributes, tensors (real types and shapes), folded constants and weight statistics of the selection."""
    name = st.session_state.selected
    tensors = list(st.session_state.get("tensors") or [])
    if tensors:
        st.markdown("**Picked tensors:** " + ", ".join(f"`{t}`" for t in tensors))
    if not name:
        st.info("Click a node in the graph (or search) to inspect it; click an edge to pick a tensor.")
        _summary_ui(ws)
        return
    doc, types = current_doc(ws)
    gid = st.session_state.get("selected_graph", "main")
    entry = doc.graphs.get(gid)
    try:
        if entry is None:
            raise KeyError(name)
        info = inspector.node_info(
            ws.model.ir,
            name,
            graph=entry.graph,
            types=types,
            folded=frozenset(entry.folded.get(name, [])),
            node=entry.nodes.get(name),
        )
    except KeyError:
        st.caption(f"Node {name!r} is no longer in the model (undo brings it back).")
        _summary_ui(ws)
        return
    st.subheader(f"{info.op} · {info.name}")
    if gid != "main":
        st.caption(f"Inside {entry.title} ({gid}); edits apply to the main graph.")  # type: ignore[union-attr]
    if info.attributes:
        st.markdown(inspector.attributes_markdown(info))
    for title, items in (("Inputs", info.inputs), ("Outputs", info.outputs)):
        if any(t.name for t in items):
            st.markdown(f"**{title}**\n\n" + inspector.tensors_markdown(items))
    for k, tensor in enumerate(info.inputs):
        if tensor.stats is not None:
            s = tensor.stats
            with st.expander(f"{tensor.source.capitalize()} {tensor.name}: {list(s.shape)} {s.dtype}", expanded=False):
                st.write({"min": s.min, "max": s.max, "mean": s.mean, "std": s.std, "zeros": s.zeros})
                st.echarts_chart(inspector.histogram_spec(s), height=180, key=f"hist-{doc.token}-{name}-{k}")


def _apply(ws: Workspace, op: str, values: dict[str, object]) -> None:
    flash(actions.apply_form(ws, op, values))


def quick_actions_ui(ws: Workspace) -> None:
    """One-click edits on the selection: remove the node, add its output, extract between two tensors."""
    sel = selection(ws)
    cols = st.columns(3)
    cols[0].button(
        "Remove",
        key="quick_remove",
        disabled=sel.node is None,
        help=f"remove_node({sel.node})" if sel.node else "select a node",
        use_container_width=True,
        on_click=_apply,
        args=(ws, "remove_node", {"node": sel.node}),
    )
    tensor = sel.tensors[-1] if sel.tensors else (sel.node_outputs[0] if sel.node_outputs else None)
    cols[1].button(
        "Output",
        key="quick_output",
        disabled=tensor is None,
        help=f"add_output({tensor})" if tensor else "select a node or an edge",
        use_container_width=True,
        on_click=_apply,
        args=(ws, "add_output", {"tensor": tensor}),
    )
    two = len(sel.tensors) == 2
    cols[2].button(
        "Extract",
        key="quick_extract",
        disabled=not two,
        help="the subgraph between the two picked tensors" if two else "shift-click two edges first",
        use_container_width=True,
        on_click=_apply,
        args=(ws, "extract", {"inputs": f'["{sel.tensors[0]}"]', "outputs": f'["{sel.tensors[-1]}"]'} if two else {}),
    )


def edit_form_ui(ws: Workspace, where: str) -> None:
    """Show a form for any registered edit, pre-filled from the selected node, picked tensors and inputs."""
    names = forms.edit_names()
    default = names.index("remove_node") if "remove_node" in names else 0
    op = st.selectbox("Edit", names, index=default, key=f"edit_op_{where}")
    doc = forms.edit_doc(op)
    first, _, rest = doc.partition(". ")
    st.caption(first + ("." if rest else ""))
    if rest:
        with st.popover("What it handles and refuses"):
            st.write(rest)
    sel = selection(ws)
    selected = st.session_state.selected if sel.node else None
    prefill = forms.prefill(op, selected, None, sel)
    ident = f"{selected}" + (f"+{','.join(sel.tensors)}" if sel.tensors else "")
    keys: dict[str, str] = {}
    for field in forms.form_fields(op):
        key = keys[field.name] = f"f-{where}-{op}-{field.name}-{ident}"
        label = field.name + ("" if field.required else " (optional)")
        if field.kind == "bool":
            st.checkbox(label, value=bool(field.default), key=key)
        elif field.kind == "choice":
            choices = list(field.choices)
            index = choices.index(field.default) if field.default in choices else 0
            st.selectbox(label, choices, index=index, key=key)
        else:
            hint = "e.g. 1,3,256,128 or batch,3,h,w" if field.name == "shape" else field.help
            st.text_input(label, value=str(prefill.get(field.name) or ""), key=key, help=hint or None)
    st.button("Apply edit", key=f"apply_{where}", type="primary", on_click=apply_cb, args=(ws, op, keys))


def apply_cb(ws: Workspace, op: str, keys: dict[str, str]) -> None:
    """Apply the edit form's values (a button callback: the page then draws once, with the result)."""
    values = {name: st.session_state.get(key) for name, key in keys.items()}
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
