"""Measured fidelity of edits that do not promise equal outputs.

:class:`~modelps.Model` runs the model before and after such an edit (``to_fp16``,
``quantize_int8``, ``prune_channels``, ``replace_op``, ``set_initializer``, ...) on the same
validation inputs in ONNX Runtime and records what changed (:class:`EditReport`: centred cosine
with its standard error, max abs error, see :mod:`modelps.fidelity`). An edit whose outputs become
non-finite or collapse to a constant is refused, naming the first tensor that went wrong
(:func:`first_broken`).

Validation inputs are the user's (``Model.validation_inputs``) or seeded random ones
(:func:`default_feeds`): symbolic batch dims are 1, symbolic spatial dims of images 64, others 8.
Integer inputs are 0 or 1 (valid indices into any vocabulary, valid masks). A model that ONNX
Runtime cannot run on them is not measured, and the report says why.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx_ir as ir

from modelps.fidelity import fidelity, score_name

__all__ = [
    "DEFAULT_SAMPLES",
    "MAX_MEASURED_BYTES",
    "EditReport",
    "Outputs",
    "Trace",
    "breakage",
    "default_feeds",
    "first_broken",
    "measure_edit",
    "run_outputs",
    "trace",
]

logger = logging.getLogger(__name__)

DEFAULT_SAMPLES = 4
MAX_MEASURED_BYTES = 1 << 30
"""Models with more weight bytes than this are not measured after each edit (too slow to run)."""

Outputs = dict[str, np.ndarray]
"""Outputs by name, each stacked over the validation samples (sample axis first)."""


@dataclasses.dataclass(frozen=True)
class EditReport:
    """What validation found for one applied edit."""

    op: str
    fidelity: dict[str, float] | None = None
    """The outputs after the edit against before it (``None``: not measured, see ``note``)."""
    note: str = ""
    warnings: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for a history panel or the command line."""
        if self.fidelity is None:
            return self.note
        key = score_name(self.fidelity)
        label = key.replace("_", " ")
        text = f"{label} {self.fidelity[key]:.6f}"
        if key == "centered_cosine" and "centered_cosine_se" in self.fidelity:
            text += f" (±{self.fidelity['centered_cosine_se']:.2g})"
        if "max_abs" in self.fidelity:
            text += f", max abs error {self.fidelity['max_abs']:.3g}"
        return f"{text} {self.note}".strip()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


def default_feeds(model: ir.Model, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Seeded random inputs, ``samples`` of them, at shapes the model is likely to accept."""
    from modelps.runtime import input_specs, make_inputs

    dims: dict[str, int] = {}
    for _, _, shape in input_specs(model):
        for axis, dim in enumerate(shape):
            if isinstance(dim, str) and dim not in dims:
                dims[dim] = 1 if axis == 0 else 64 if len(shape) == 4 and axis >= 2 else 8
    return [make_inputs(model, seed=seed + i, dims=dims, int_high=2) for i in range(samples)]


def run_outputs(model: ir.Model, feeds: Sequence[Mapping[str, np.ndarray]]) -> Outputs:
    """Every graph output on every feed, stacked along a new first (sample) axis.

    Feeds of different shapes (sequences of several lengths) give outputs flattened per sample
    and zero-padded to one length: the same feeds pad the same way before and after an edit.
    """
    from modelps.runtime import session_for

    session = session_for(model)
    names = [o.name for o in session.get_outputs()]
    runs = [session.run(names, dict(feed)) for feed in feeds]
    return {name: _stack([np.asarray(r[i]) for r in runs]) for i, name in enumerate(names)}


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack per-sample outputs; outputs whose shape differs by sample (sequences) are flattened and zero-padded."""
    if all(a.shape == arrays[0].shape for a in arrays):
        return np.stack(arrays)
    length = max(a.size for a in arrays)
    out = np.zeros((len(arrays), length), dtype=arrays[0].dtype)
    for row, array in zip(out, arrays, strict=True):
        row[: array.size] = array.reshape(-1)
    return out


def breakage(before: Outputs, after: Outputs) -> str | None:
    """Say which output became non-finite or collapsed to a constant, or None when none did."""
    for name, ref in before.items():
        out = after.get(name)
        if out is None or out.shape != ref.shape or not np.issubdtype(ref.dtype, np.floating):
            continue
        new_bad = np.isfinite(ref) & ~np.isfinite(out)
        if new_bad.any():
            return f"output {name!r} became non-finite ({int(new_bad.sum())} of {ref.size} values)"
        if _collapsed(ref, out):
            return f"output {name!r} collapsed: it no longer depends on the input ({_describe(out)})"
    return None


def _collapsed(ref: np.ndarray, out: np.ndarray) -> bool:
    """Whether ``out`` is the same for every sample (or constant, for one sample) while ``ref`` was not."""
    if len(ref) < 2:
        return ref.size > 1 and bool(np.ptp(ref) > 0) and bool(np.ptp(out) == 0)
    with np.errstate(invalid="ignore"):
        varied = bool(np.nan_to_num(np.ptp(ref, axis=0)).max() > 0)
        same = bool(np.nan_to_num(np.ptp(out, axis=0)).max() == 0)
    return varied and same


def _describe(array: np.ndarray) -> str:
    flat = array.reshape(-1)
    return f"every value {float(flat[0]):g}" if flat.size and np.ptp(flat) == 0 else "the same for every input"


def measure_edit(before: Outputs, after: Outputs) -> tuple[dict[str, float] | None, str]:
    """Fidelity of ``after`` to ``before`` over the outputs both have at the same shape, and a note."""
    common = [n for n, a in before.items() if n in after and after[n].shape == a.shape]
    if not common:
        return None, "not measured: no output kept its name and shape"
    samples = len(before[common[0]])
    result = fidelity([before[n] for n in common], [after[n] for n in common])
    dropped = len(before) - len(common)
    note = f"on {samples} validation input(s)" + (f"; {dropped} changed output(s) not compared" if dropped else "")
    return result, note


_FLOATS = frozenset({ir.DataType.FLOAT, ir.DataType.FLOAT16, ir.DataType.DOUBLE, ir.DataType.BFLOAT16})


@dataclasses.dataclass(frozen=True)
class Trace:
    """Every float activation of a model's main graph on one feed, in graph order, and bad weights."""

    order: list[str]
    values: dict[str, np.ndarray]
    bad_weights: list[str]


def trace(model: ir.Model, feeds: Sequence[Mapping[str, np.ndarray]]) -> Trace:
    """Run ``model`` on ``feeds`` exposing every float tensor, stacked over the feeds.

    Best effort: the trace is empty when the model cannot run.
    """
    from modelps.runtime import session_for
    from modelps.validate import infer_value_types

    bad = _bad_weights(model)
    types = infer_value_types(model)
    clone = model.clone()
    present = {v.name for v in clone.graph.outputs}
    order: list[str] = []
    for node in clone.graph:
        for value in node.outputs:
            type_ = value.type or (types[value.name][0] if value.name in types else None)
            if value.name and type_ is not None and type_.dtype in _FLOATS:
                value.type = type_
                order.append(value.name)
                if value.name not in present:
                    clone.graph.outputs.append(value)
                    present.add(value.name)
    try:
        session = session_for(clone)
        names = [o.name for o in session.get_outputs()]
        runs = [session.run(names, dict(feed)) for feed in feeds]
        values = {name: np.stack([np.asarray(r[i]) for r in runs]) for i, name in enumerate(names)}
    except Exception as exc:  # ONNX Runtime raises its own types; a diagnosis is best effort
        logger.debug("cannot trace the model: %s", exc)
        return Trace([], {}, bad)
    return Trace(order, values, bad)


def _bad_weights(model: ir.Model) -> list[str]:
    bad = []
    for graph in model.graphs():
        for value in graph.initializers.values():
            tensor = value.const_value
            if tensor is not None and tensor.dtype in _FLOATS and not np.isfinite(tensor.numpy()).all():
                bad.append(repr(value.name))
        for node in graph:
            attr = node.attributes.get("value") if node.op_type == "Constant" else None
            if attr is not None and attr.type == ir.AttributeType.TENSOR:
                array = attr.as_tensor().numpy()
                if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
                    bad.append(f"{node.outputs[0].name!r} (Constant node {node.name!r})")
    return bad


def first_broken(after: Trace, before: Trace) -> str:
    """Name the first stored tensor or activation of the edited model that holds inf/NaN or collapsed.

    ``before`` is the same trace of the model before the edit: it tells a tensor that broke from
    one that was non-finite or constant already.
    """
    new_weights = [w for w in after.bad_weights if w not in before.bad_weights]
    if new_weights:
        return f"the stored tensor {new_weights[0]} holds inf or NaN"
    for name in after.order:
        value, ref = after.values.get(name), before.values.get(name)
        if value is not None and not np.isfinite(value).all() and (ref is None or np.isfinite(ref).all()):
            return f"tensor {name!r} is the first to hold inf or NaN"
    for name in after.order:
        value, ref = after.values.get(name), before.values.get(name)
        if value is not None and ref is not None and ref.shape == value.shape and _collapsed(ref, value):
            return f"tensor {name!r} is the first to collapse ({_describe(value)})"
    return "no single tensor could be named" if after.order else "the edited model could not be traced"
