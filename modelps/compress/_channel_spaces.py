"""Union-find over channel spaces: the bookkeeping under the channel analysis's op rules.

A *channel space* is created by a producer (or is fixed where the analysis cannot look through);
op rules tie spaces into groups, block them with a reason, and record the nodes that touch them.
:meth:`ChannelSpaces.result` turns the spaces into the :class:`~modelps.compress.groups.Analysis`.
"""

from __future__ import annotations

import onnx_ir as ir

from modelps.compress.groups import (
    Analysis,
    AttrUpdate,
    ChannelGroup,
    ConsumerUse,
    Layout,
    ParamSlice,
    ShapeUpdate,
)
from modelps.compress.values import static_shapes

__all__ = ["ChannelSpaces"]


class ChannelSpaces:
    """Channel spaces of one graph, their groups and layouts, and the surgery plan collected so far."""

    def __init__(self, model: ir.Model) -> None:
        self.graph = model.graph
        self.shapes = static_shapes(model)
        self.parent: list[int] = []
        self.size: list[int] = []
        self.fixed: dict[int, str] = {}
        self.origin: dict[int, str] = {}
        self.producers: dict[int, list[str]] = {}
        self.members: dict[int, list[str]] = {}
        self.layouts: dict[str, Layout] = {}
        self.params: list[ParamSlice] = []
        self.consumers: list[ConsumerUse] = []
        self.shape_updates: list[ShapeUpdate] = []
        self.attr_updates: list[AttrUpdate] = []

    # -- union-find over channel spaces ------------------------------------------------------
    def new_space(self, size: int, origin: str, fixed: str | None = None, producer: str | None = None) -> int:
        sid = len(self.parent)
        self.parent.append(sid)
        self.size.append(size)
        self.origin[sid] = origin
        self.producers[sid] = [producer] if producer else []
        self.members[sid] = [producer] if producer else []
        if fixed:
            self.fixed[sid] = fixed
        return sid

    def find(self, sid: int) -> int:
        while self.parent[sid] != sid:
            self.parent[sid] = self.parent[self.parent[sid]]
            sid = self.parent[sid]
        return sid

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            self.parent[hi] = lo

    def tie(self, a: Layout, b: Layout) -> bool:
        """Tie two layouts into the same groups segment by segment; ``False`` if their segments differ."""
        if len(a) != len(b):
            return False
        for (sa, ra), (sb, rb) in zip(a, b, strict=True):
            if ra != rb or self.size[sa] != self.size[sb]:
                return False
        for (sa, _), (sb, _) in zip(a, b, strict=True):
            self.union(sa, sb)
        return True

    def block(self, layout: Layout | None, reason: str) -> None:
        for sid, _ in layout or ():
            self.fixed.setdefault(sid, reason)

    def touch(self, layout: Layout | None, node: str) -> None:
        for sid, _ in layout or ():
            self.members[sid].append(node)

    # -- helpers ---------------------------------------------------------------------------
    def shape(self, value: ir.Value | None) -> tuple[int | str | None, ...] | None:
        if value is None or value.name is None:
            return None
        return self.shapes.get(value.name)

    def layout(self, value: ir.Value | None) -> Layout | None:
        if value is None or value.name is None:
            return None
        return self.layouts.get(value.name)

    def set_layout(self, value: ir.Value, layout: Layout | None) -> None:
        if layout is not None and value.name is not None:
            self.layouts[value.name] = layout

    def fresh_output(self, value: ir.Value, reason: str) -> None:
        shape = self.shape(value)
        if shape is not None and len(shape) >= 2 and isinstance(shape[1], int) and shape[1] > 0:
            sid = self.new_space(shape[1], value.name or "?", fixed=reason)
            self.set_layout(value, ((sid, 1),))

    def opaque(self, node: ir.Node, reason: str | None = None) -> None:
        why = reason or f"it reaches {node.op_type} node {node.name!r}, which the pruner does not look through"
        for value in node.inputs:
            self.block(self.layout(value), why)
            self.touch(self.layout(value), node.name or "")
        for value in node.outputs:
            self.fresh_output(value, why)

    def layout_len(self, layout: Layout) -> int:
        """The number of elements along axis 1 of a tensor with ``layout``."""
        return sum(self.size[s] * r for s, r in layout)

    # -- result ------------------------------------------------------------------------------
    def result(self) -> Analysis:
        """The groups (connected spaces) with their fixed reasons and consumers, plus the collected plan."""
        roots: dict[int, list[int]] = {}
        for sid in range(len(self.parent)):
            roots.setdefault(self.find(sid), []).append(sid)
        groups: list[ChannelGroup] = []
        space_group: dict[int, int] = {}
        for gid, (_, sids) in enumerate(sorted(roots.items())):
            producers = [p for s in sids for p in self.producers[s]]
            members = list(dict.fromkeys(m for s in sids for m in self.members[s] if m))
            reasons = [self.fixed[s] for s in sids if s in self.fixed]
            sizes = {self.size[s] for s in sids}
            reason = reasons[0] if reasons else None
            if reason is None and len(sizes) != 1:
                reason = "its tensors disagree on the channel count"
            if reason is None and not producers:
                reason = "no layer produces it"
            for s in sids:
                space_group[s] = gid
            name = producers[0] if producers else self.origin[sids[0]]
            groups.append(
                ChannelGroup(
                    id=gid,
                    name=name,
                    size=self.size[sids[0]],
                    producers=producers,
                    consumers=[],
                    prunable=reason is None,
                    reason=reason,
                    residual=len(producers) > 1,
                    members=members,
                )
            )
        for use in self.consumers:
            for sid, _ in use.layout:
                consumers = groups[space_group[sid]].consumers
                if use.node not in consumers:
                    consumers.append(use.node)
        return Analysis(
            groups=groups,
            space_group=space_group,
            space_size={s: self.size[s] for s in range(len(self.size))},
            params=self.params,
            consumers=self.consumers,
            shape_updates=self.shape_updates,
            attr_updates=self.attr_updates,
            layouts=dict(self.layouts),
        )
