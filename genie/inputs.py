"""Calibration and held-out inputs, the shapes they fix, and a model's outputs on them.

A fidelity estimate needs enough held-out inputs (``Goal.holdout_samples``, 32 by default). When a
user gives a small ``.npz`` (5 images, say), the held-out set is the given inputs, their mirror
images and bundled photos scaled to the given inputs' statistics; the calibration source becomes
``<file>.npz+samples`` (the file topped up the same way, replayable from the recipe). Every such
step is written to :attr:`Inputs.notes`.

Inputs with dynamic dimensions are measured at the calibration inputs' shape (or ``Goal.shapes``);
:func:`size_variants` gives the same inputs at two other sizes, on which a candidate must still
run before it is recommended.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx_ir as ir

from genie.goal import Goal
from modelps.compress.calib import TOPPED_UP, load_calibration
from modelps.edits import Edit
from modelps.errors import ModelPSError
from modelps.fidelity import fidelity
from modelps.io import model_bytes
from modelps.measured import Outputs, run_outputs
from modelps.model import Model
from modelps.runtime import input_specs

__all__ = [
    "Feeds",
    "Inputs",
    "build_model",
    "compare",
    "model_bytes",
    "outputs_of",
    "prepare_inputs",
    "size_variants",
]

Feeds = list[dict[str, np.ndarray]]


@dataclasses.dataclass
class Inputs:
    """The inputs one search runs on."""

    calib: Feeds
    """Calibration inputs (INT8 ranges, pruning reconstruction, sensitivity)."""
    held: Feeds
    """Held-out inputs every candidate's fidelity is measured on."""
    source: str
    """The calibration source the candidates' recipes name."""
    shapes: dict[str, tuple[int, ...]]
    """The concrete input shapes measured at."""
    dynamic: dict[str, tuple[int, ...]]
    """Per input, the axes the model leaves dynamic (kept dynamic in every candidate)."""
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def input_shapes(self) -> dict[str, list[int]]:
        """The shapes generated calibration sources need (``input_shapes`` of the edits), else {}."""
        if not self.dynamic or self.source.endswith(".npz") or self.source.endswith(TOPPED_UP):
            return {}
        return {name: list(self.shapes[name]) for name in self.dynamic}


def _dynamic_axes(model: ir.Model) -> dict[str, tuple[int, ...]]:
    axes = {}
    for name, _, shape in input_specs(model):
        found = tuple(i for i, d in enumerate(shape) if not (isinstance(d, int) and d > 0))
        if found:
            axes[name] = found
    return axes


def prepare_inputs(model: ir.Model, goal: Goal) -> Inputs:
    """Calibration and held-out inputs for ``goal`` on ``model`` (see the module docstring).

    Raises:
        ModelPSError: A dynamic input has no concrete shape to measure at; the message says how to give one.
    """
    dynamic = _dynamic_axes(model)
    notes: list[str] = []
    source = goal.calib
    need = goal.calib_samples + goal.holdout_samples
    if source.endswith(".npz"):
        given = load_calibration(model, source, count=need, seed=goal.seed)
        _check_given_shapes(given, goal.shapes)
        if len(given) >= need:
            calib, held = given[: goal.calib_samples], given[goal.calib_samples :]
        else:
            calib, held, source = _small_set(model, source, given, goal, notes)
    else:
        if source not in ("samples", "random") and not Path(source).is_dir():
            raise ModelPSError(f"calibration source {source!r}: not 'samples', 'random', an .npz or a folder")
        shapes = dict(goal.shapes)
        calib = load_calibration(model, source, count=goal.calib_samples, seed=goal.seed, shapes=shapes)
        held = load_calibration(model, source, count=goal.holdout_samples, seed=goal.seed + 1000, shapes=shapes)
        if len(held) < goal.holdout_samples and len(calib) > 1:
            held = _augmented(held, goal.holdout_samples)
    shapes = {name: tuple(int(d) for d in array.shape) for name, array in held[0].items()}
    if dynamic:
        told = ", ".join(f"{n} {'x'.join(map(str, shapes[n]))}" for n in dynamic)
        notes.insert(0, f"dynamic inputs measured at {told} (the recommended model keeps them dynamic)")
    if len(held) < 2:
        notes.append("one held-out input: fidelity is the raw cosine of one sample, its error unknown")
    return Inputs(calib, held, source, shapes, dynamic, notes)


def _check_given_shapes(feeds: Feeds, shapes: Mapping[str, tuple[int, ...]]) -> None:
    for name, shape in shapes.items():
        actual = tuple(feeds[0][name].shape) if name in feeds[0] else None
        if actual is not None and actual != tuple(shape):
            raise ModelPSError(
                f"--shape {name}:{'x'.join(map(str, shape))} differs from the calibration arrays' "
                f"{'x'.join(map(str, actual))}; give arrays of that shape or leave --shape out"
            )


def _is_image_model(feeds: Feeds) -> bool:
    if len(feeds[0]) != 1:
        return False
    array = next(iter(feeds[0].values()))
    return array.ndim == 4 and array.shape[1] in (1, 3) and np.issubdtype(array.dtype, np.floating)


MIN_OWN_HELD = 8
"""Given inputs kept out of calibration, when there are that many beyond ``calib_samples``: judging
on the inputs INT8 ranges and pruning reconstructions were fitted to overrates them (on the ReID demo
a candidate judged 0.99 scored 0.9875 on other images)."""


def _small_set(model: ir.Model, source: str, given: Feeds, goal: Goal, notes: list[str]) -> tuple[Feeds, Feeds, str]:
    """Calibration and held-out sets from fewer inputs than the search needs."""
    n = len(given)
    if not _is_image_model(given):
        notes.append(
            f"{n} calibration input(s) given and they cannot be augmented (not a single image input): "
            "they serve as both calibration and held-out inputs"
        )
        return given, given, source
    topped = source + TOPPED_UP
    if n >= goal.calib_samples + MIN_OWN_HELD:  # enough to judge on inputs the candidates were not fitted to
        calib, own = given[: goal.calib_samples], given[goal.calib_samples :]
        extra = load_calibration(model, topped, count=n + goal.holdout_samples, seed=goal.seed + 1000)[n:]
        held = (own + [{k: v[..., ::-1].copy() for k, v in f.items()} for f in own] + extra)[: goal.holdout_samples]
        notes.append(
            f"{n} calibration input(s) given: calibration on the first {len(calib)}; held-out set of {len(held)}: "
            f"the other {len(own)}, their mirror images and bundled photos"
        )
        return calib, held, source
    calib = load_calibration(model, topped, count=max(goal.calib_samples, n), seed=goal.seed)
    extra = load_calibration(model, topped, count=n + goal.holdout_samples, seed=goal.seed + 1000)[n:]
    mirrored = [{k: v[..., ::-1].copy() for k, v in feed.items()} for feed in given]
    held = (given + mirrored + extra)[: goal.holdout_samples]
    topped_up = (
        f"topped up to {len(calib)} with bundled photos scaled to their statistics" if len(calib) > n else "all of them"
    )
    notes.append(
        f"{n} calibration input(s) given: calibration on {topped_up} ({topped}); held-out set of {len(held)}: "
        "the given inputs, their mirror images and bundled photos"
    )
    return calib, held, topped


def _augmented(feeds: Feeds, count: int) -> Feeds:
    """Mirror images of image inputs, to reach ``count`` held-out inputs."""
    if not _is_image_model(feeds):
        return feeds
    mirrored = [{k: v[..., ::-1].copy() for k, v in feed.items()} for feed in feeds]
    return (feeds + mirrored)[:count]


def outputs_of(model: ir.Model, feeds: Sequence[Mapping[str, np.ndarray]]) -> Outputs:
    """Every output of ``model`` on every feed, stacked over the feeds (sample axis first)."""
    return run_outputs(model, feeds)


def compare(reference: Outputs, outputs: Outputs) -> dict[str, float]:
    """Fidelity of ``outputs`` to ``reference`` over the reference's outputs (any rank, worst output)."""
    missing = [name for name in reference if name not in outputs]
    if missing:
        raise ModelPSError(f"the candidate lost output(s) {missing}")
    return fidelity([reference[n] for n in reference], [outputs[n] for n in reference])


def build_model(base: ir.Model, edits: Sequence[Edit]) -> ir.Model:
    """Apply ``edits`` to a copy of ``base`` (structure-checked only: the search measures the result)."""
    model = Model(base.clone(), validation="structure")
    for edit in edits:
        model.apply(edit)
    return model.ir


def _resized(array: np.ndarray, axes: Mapping[int, int]) -> np.ndarray:
    """``array`` with each axis in ``axes`` resampled (nearest) to its new length."""
    for axis, length in axes.items():
        index = np.round(np.linspace(0, array.shape[axis] - 1, length)).astype(np.int64)
        array = np.take(array, index, axis=axis)
    return array


def _other_size(value: int, factor: float) -> int:
    step = 32 if value % 32 == 0 else 8 if value % 8 == 0 else 1
    return max(step, int(round(value * factor / step)) * step)


def size_variants(inputs: Inputs, count: int = 4) -> list[tuple[str, Feeds]]:
    """The first held-out inputs at two other sizes along every dynamic axis (batch 2 on axis 0)."""
    if not inputs.dynamic:
        return []
    variants = []
    for factor, batch in ((0.75, 2), (1.25, 1)):
        feeds = []
        for feed in inputs.held[:count]:
            new = {}
            for name, array in feed.items():
                axes = {a: _other_size(array.shape[a], factor) for a in inputs.dynamic.get(name, ()) if a > 0}
                resized = _resized(array, axes)
                if 0 in inputs.dynamic.get(name, ()) and batch > 1:
                    resized = np.concatenate([resized] * batch, axis=0)
                new[name] = resized
            feeds.append(new)
        label = ", ".join(f"{n} {'x'.join(map(str, feeds[0][n].shape))}" for n in inputs.dynamic)
        variants.append((label, feeds))
    return variants
