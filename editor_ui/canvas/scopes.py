"""Hierarchy for the canvas: name scopes to a group tree, with repeated blocks recognised.

A node's scope comes from the exporter's name-scope metadata (``pkg.torch.onnx.name_scopes``) when
present, else from its name (``/layer1/layer1.0/conv1/Conv`` -> ``layer1 ▸ layer1.0 ▸ conv1``). Groups
with a single member are dissolved into their parent; a level with more than :data:`MAX_CHILDREN`
members (a scope-less graph, or thousands of blocks) is split into consecutive ranges, so every level
stays readable. Groups with the same inner structure get the same repeat class.

Example::

    >>> names = ["x", "/l1/a/Conv", "/l1/a/Relu", "/l1/b/Conv", "/l1/b/Relu", "y"]
    >>> scopes = [None, ("l1", "a"), ("l1", "a"), ("l1", "b"), ("l1", "b"), None]
    >>> groups, member = group_tree(names, scopes, [0, 1, 2, 3, 4], [1, 2, 3, 4, 5])
    >>> [(g["label"], g["parent"], g["size"], g["reps"]) for g in groups]
    [('l1', -1, 4, 1), ('a', 0, 2, 2), ('b', 0, 2, 2)]
    >>> member
    [-1, 1, 1, 2, 2, -1]
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Sequence

import onnx_ir as ir

__all__ = ["MAX_CHILDREN", "group_tree", "node_scope"]

MAX_CHILDREN = 40
"""The most members one group (or the top level) shows before it is split into ranges."""

_SCOPE_KEYS = ("pkg.torch.onnx.name_scopes", "namespace")


def node_scope(node: ir.Node, name: str) -> tuple[str, ...]:
    """The name scope of ``node``: exporter metadata if present, else the ``/``-separated name less its tail.

    >>> node_scope(ir.Node("", "Conv", [], name="/layer1/layer1.0/conv1/Conv"), "/layer1/layer1.0/conv1/Conv")
    ('layer1', 'layer1.0', 'conv1')
    >>> node_scope(ir.Node("", "Conv", [], name="conv2d_3"), "conv2d_3")
    ()
    """
    for key in _SCOPE_KEYS:
        text = node.metadata_props.get(key)
        if not text:
            continue
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed = text.split("/")
        if isinstance(parsed, (list, tuple)):
            parts = tuple(str(p) for p in parsed if str(p))
            if parts:
                return parts
    parts = [p for p in name.split("/")[:-1] if p]
    return tuple(parts)


class _Tree:
    """Groups as parent links and ordered child lists; an item is ``("n", node)`` or ``("g", group)``."""

    def __init__(self) -> None:
        self.label: list[str] = []
        self.parent: list[int] = []
        self.synthetic: list[bool] = []
        self.children: dict[int, list[tuple[str, int]]] = {-1: []}

    def new(self, label: str, parent: int, synthetic: bool = False) -> int:
        self.label.append(label)
        self.parent.append(parent)
        self.synthetic.append(synthetic)
        g = len(self.label) - 1
        self.children[g] = []
        return g


def _build(scopes: Sequence[tuple[str, ...] | None]) -> _Tree:
    tree = _Tree()
    by_path: dict[tuple[str, ...], int] = {}
    for i, scope in enumerate(scopes):
        parent = -1
        for depth in range(len(scope or ())):
            path = scope[: depth + 1]  # type: ignore[index]
            g = by_path.get(path)
            if g is None:
                g = by_path[path] = tree.new(path[-1], parent)
                tree.children[parent].append(("g", g))
            parent = g
        tree.children[parent].append(("n", i))
    return tree


def _dissolve_singletons(tree: _Tree, group: int) -> list[tuple[str, int]]:
    """Replace groups holding one member by that member, bottom-up; returns ``group``'s new children."""
    result = []
    for kind, item in tree.children[group]:
        if kind == "g":
            inner = _dissolve_singletons(tree, item)
            if len(inner) == 1:
                kind, item = inner[0]
                if kind == "g":
                    tree.label[item] = f"{tree.label[tree.parent[item]]}/{tree.label[item]}"
        if kind == "g":
            tree.parent[item] = group
        result.append((kind, item))
    tree.children[group] = result
    return result


def _first(tree: _Tree, item: tuple[str, int], cache: dict[int, int]) -> int:
    kind, i = item
    if kind == "n":
        return i
    if i not in cache:
        cache[i] = min((_first(tree, c, cache) for c in tree.children[i]), default=1 << 60)
    return cache[i]


def _short(tree: _Tree, item: tuple[str, int], names: Sequence[str]) -> str:
    kind, i = item
    return tree.label[i] if kind == "g" else names[i].rsplit("/", 1)[-1]


def _split_wide(tree: _Tree, group: int, names: Sequence[str], first: dict[int, int]) -> None:
    """Split members beyond :data:`MAX_CHILDREN` into consecutive ranges (recursively), in graph order."""
    members = sorted(tree.children[group], key=lambda item: _first(tree, item, first))
    while len(members) > MAX_CHILDREN:
        per = -(-len(members) // -(-len(members) // MAX_CHILDREN))  # ceil(n / ceil(n / MAX))
        chunks = []
        for start in range(0, len(members), per):
            part = members[start : start + per]
            label = f"{_short(tree, part[0], names)} … {_short(tree, part[-1], names)}"
            g = tree.new(label, group, synthetic=True)
            for kind, item in part:
                if kind == "g":
                    tree.parent[item] = g
            tree.children[g] = part
            chunks.append(("g", g))
        members = chunks
    tree.children[group] = members
    for kind, item in list(members):
        if kind == "g":
            _split_wide(tree, item, names, first)


def _signatures(tree: _Tree, op_of: Sequence[str], edges: dict[int, list[tuple[int, int]]]) -> dict[int, str]:
    """A structural hash per group: its members' signatures in order and the edges between them."""
    signature: dict[int, str] = {}

    def visit(g: int) -> str:
        parts = []
        for kind, item in tree.children[g]:
            parts.append(visit(item) if kind == "g" else op_of[item])
        text = "(" + ",".join(parts) + "|" + ",".join(f"{a}>{b}" for a, b in sorted(edges.get(g, []))) + ")"
        signature[g] = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        return signature[g]

    for kind, item in tree.children[-1]:
        if kind == "g":
            visit(item)
    return signature


def group_tree(
    names: Sequence[str],
    scopes: Sequence[tuple[str, ...] | None],
    src: Sequence[int],
    dst: Sequence[int],
    ops: Sequence[str] | None = None,
) -> tuple[list[dict], list[int]]:
    """Group nodes by scope; returns the groups (label, parent, size, repeat class and count) and each node's group.

    ``ops`` (op type per node, for repeat detection) defaults to the names' tails.
    """
    tree = _build(scopes)
    _dissolve_singletons(tree, -1)
    first: dict[int, int] = {}
    _split_wide(tree, -1, names, first)
    member = [-1] * len(names)
    size = [0] * len(tree.label)
    position: dict[tuple[str, int], int] = {}
    live: list[int] = []

    def walk(g: int) -> int:
        total = 0
        for pos, (kind, item) in enumerate(tree.children[g]):
            position[(kind, item)] = pos
            if kind == "g":
                live.append(item)
                total += walk(item)
            else:
                member[item] = g
                total += 1
        if g >= 0:
            size[g] = total
        return total

    walk(-1)
    group_chain: dict[int, list[int]] = {-1: []}

    def chain_of(g: int) -> list[int]:
        found = group_chain.get(g)
        if found is None:
            found = group_chain[g] = [*chain_of(tree.parent[g]), g]
        return found

    inner: dict[int, list[tuple[int, int]]] = {}
    for s, d in zip(src, dst, strict=True):
        cs = chain_of(member[s])
        cd = chain_of(member[d])
        depth = 0
        while depth < len(cs) and depth < len(cd) and cs[depth] == cd[depth]:
            depth += 1
        if depth == 0:
            continue
        owner = cs[depth - 1]
        a = ("g", cs[depth]) if depth < len(cs) else ("n", s)
        b = ("g", cd[depth]) if depth < len(cd) else ("n", d)
        if a != b:
            inner.setdefault(owner, []).append((position[a], position[b]))
    op_of = list(ops) if ops is not None else [n.rsplit("/", 1)[-1].rstrip("_0123456789") for n in names]
    signature = _signatures(tree, op_of, inner)
    counts: dict[str, int] = {}
    for g in live:
        if not tree.synthetic[g] and size[g] > 1:
            counts[signature[g]] = counts.get(signature[g], 0) + 1
    classes = {sig: k for k, sig in enumerate(s for s, c in counts.items() if c > 1)}
    renumber = {g: k for k, g in enumerate(sorted(live))}
    groups = []
    for g in sorted(live):
        parent = tree.parent[g]
        sig = signature.get(g, "")
        repeated = not tree.synthetic[g] and size[g] > 1 and sig in classes
        groups.append(
            {
                "label": tree.label[g],
                "parent": renumber.get(parent, -1),
                "size": size[g],
                "rep": classes[sig] if repeated else -1,
                "reps": counts.get(sig, 1) if repeated else 1,
                "syn": tree.synthetic[g],
            }
        )
    member = [renumber.get(g, -1) for g in member]
    return groups, member
