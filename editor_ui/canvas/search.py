"""Search every graph of a canvas document (subgraphs and local functions included).

Example::

    >>> from tests.models import IF_MODEL, model_from_text
    >>> from modelps.model import Model
    >>> from editor_ui.canvas.doc import build_doc
    >>> doc = build_doc(Model(model_from_text(IF_MODEL)).ir)
    >>> [(h.graph, h.node, h.op) for h in search(doc, "Abs")]
    [('main/n1.else_branch', 'Abs_0', 'Abs')]
"""

from __future__ import annotations

import dataclasses

from editor_ui.canvas.doc import CAPTURED, INPUT, OUTPUT, CanvasDoc

__all__ = ["Hit", "search"]

_PSEUDO = {INPUT: "input", OUTPUT: "output", CAPTURED: "outer value"}


@dataclasses.dataclass(frozen=True)
class Hit:
    """A match: the graph and drawn node to go to, its op, and why it matched."""

    graph: str
    node: str
    op: str
    why: str

    @property
    def label(self) -> str:
        """One line for a result list."""
        where = "" if self.graph == "main" else f" in {self.graph}"
        return f"{self.node} ({self.op}){where}" + (f" · {self.why}" if self.why else "")


def search(doc: CanvasDoc, query: str, limit: int = 50) -> list[Hit]:
    """Nodes whose name, op type or tensors contain ``query`` (case-insensitive); exact matches first.

    A constant folded into a node is found through that node.
    """
    q = query.strip().lower()
    if not q:
        return []
    exact: list[Hit] = []
    partial: list[Hit] = []
    ops = doc.data["ops"]
    for gid, g in doc.data["graphs"].items():
        tensors: dict[int, list[str]] = {}
        for s, d, t in zip(g["src"], g["dst"], g["tensor"], strict=True):
            tensors.setdefault(s, []).append(t)
            tensors.setdefault(d, []).append(t)
        entry = doc.graphs[gid]
        for i, name in enumerate(g["names"]):
            op = ops[g["op"][i]] if g["op"][i] >= 0 else _PSEUDO[g["op"][i]]
            lname, lop = name.lower(), op.lower()
            names = [t.lower() for t in tensors.get(i, [])]
            inner = [f.lower() for f in (*entry.folded.get(name, []), *entry.folded_ops.get(name, []))]
            if q in (lname, lop) or q in names:
                exact.append(Hit(gid, name, op, ""))
            elif q in lname or q in lop or any(q in t for t in names):
                partial.append(Hit(gid, name, op, ""))
            elif any(q in f for f in inner):
                partial.append(Hit(gid, name, op, "a constant folded into it matches"))
            if len(exact) >= limit:
                return exact
    return (exact + partial)[:limit]
