"""Channel groups and the surgery plan: what :func:`~modelps.compress.channels.analyze` finds.

An :class:`Analysis` lists the channel groups of a model and, for the surgery in
:mod:`modelps.compress.prune`, every place a group's channels appear: constant inputs to slice
(:class:`ParamSlice`), consumers whose weight columns go (:class:`ConsumerUse`), constant shape
vectors (:class:`ShapeUpdate`) and attributes (:class:`AttrUpdate`) that hold a channel count.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "Analysis",
    "AttrUpdate",
    "ChannelGroup",
    "ConsumerUse",
    "Layout",
    "ParamSlice",
    "ShapeUpdate",
    "groups_touching",
    "layout_indices",
]

Layout = tuple[tuple[int, int], ...]
"""Channel layout of a tensor's axis 1: ``((space, repeat), ...)``; each channel of ``space`` is
``repeat`` consecutive elements."""


@dataclasses.dataclass
class ParamSlice:
    """A constant input of a node to be sliced along ``axis`` with a layout's kept indices."""

    node: str
    input_index: int
    axis: int
    layout: Layout


@dataclasses.dataclass
class ConsumerUse:
    """A node that mixes the channels of its input ``layout`` (weight sliced along ``axis``)."""

    node: str
    op_type: str
    weight_index: int
    axis: int
    layout: Layout


@dataclasses.dataclass
class ShapeUpdate:
    """A constant shape/sizes vector whose entry ``index`` is the channel count of ``layout``."""

    node: str
    input_index: int
    index: int
    layout: Layout


@dataclasses.dataclass
class AttrUpdate:
    """An integer attribute (a depthwise conv's ``group``) equal to the channel count of ``layout``."""

    node: str
    name: str
    layout: Layout


@dataclasses.dataclass
class ChannelGroup:
    """Channels that must be pruned together.

    Attributes:
        name: A stable name: the first producer node's name (or the value's for fixed groups).
        size: Number of channels.
        producers: Nodes whose output channels form the group.
        consumers: Nodes that read the group's channels (their weight columns).
        prunable: Whether the group may be pruned.
        reason: Why not, when it may not.
        residual: Whether several producers are tied (a residual stream).
    """

    id: int
    name: str
    size: int
    producers: list[str]
    consumers: list[str]
    prunable: bool
    reason: str | None
    residual: bool
    members: list[str]
    """Every node touching the group (producers, pass-throughs, consumers)."""


@dataclasses.dataclass
class Analysis:
    """The result of :func:`analyze`: groups plus the surgery plan."""

    groups: list[ChannelGroup]
    space_group: dict[int, int]
    space_size: dict[int, int]
    params: list[ParamSlice]
    consumers: list[ConsumerUse]
    shape_updates: list[ShapeUpdate]
    attr_updates: list[AttrUpdate]
    layouts: dict[str, Layout]

    def group(self, name: str) -> ChannelGroup:
        """Look up a group by name (``KeyError`` if absent)."""
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(name)

    @property
    def prunable(self) -> list[ChannelGroup]:
        """The groups that may be pruned."""
        return [g for g in self.groups if g.prunable]

    def uses_of(self, group_ids: Collection[int]) -> list[ConsumerUse]:
        """The consumer uses that read channels of any of the groups with these ids."""
        return [u for u in self.consumers if any(self.space_group[s] in group_ids for s, _ in u.layout)]


def layout_indices(layout: Layout, analysis: Analysis, keep: Mapping[int, np.ndarray]) -> tuple[np.ndarray, int]:
    """Kept element indices along a tensor axis with ``layout`` and the axis's original length.

    ``keep`` maps group ids to sorted kept channel indices (groups not in it are kept whole).
    """
    parts: list[np.ndarray] = []
    offset = 0
    for sid, rep in layout:
        size = analysis.space_size[sid]
        kept = keep.get(analysis.space_group[sid])
        idx = np.arange(size) if kept is None else np.asarray(kept)
        parts.append(((idx[:, None] * rep + np.arange(rep)[None, :]).reshape(-1) + offset).astype(np.int64))
        offset += size * rep
    return (np.concatenate(parts) if parts else np.zeros(0, np.int64)), offset


def groups_touching(layout: Sequence[tuple[int, int]], analysis: Analysis) -> Iterable[int]:
    """Group ids present in a layout."""
    return dict.fromkeys(analysis.space_group[s] for s, _ in layout).keys()
