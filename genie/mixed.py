"""Accuracy-aware mixed precision: which layers to keep in float so that INT8 meets the fidelity floor.

1. *Sensitivity* (:func:`sensitivity_proxy`): one run of the float and the INT8 model on the same
   inputs; each quantized layer's own contribution is how much its output's relative error exceeds
   that of its inputs. It needs two sessions, not one quantization per layer.
2. *Check* (:func:`leave_one_out`): the exact effect of keeping each of the top layers alone in float,
   measured on the held-out inputs, for the proxy's top-ranked layers (it validates the proxy and
   re-orders them).
3. *Search* (:func:`search_float_set`): the smallest set of layers, taken by sensitivity, whose
   float versions lift the held-out fidelity to the floor (1, 2, 4, ... layers).

Steps 2 and 3 do not re-quantize: :func:`keep_in_float` bypasses the Quantize/Dequantize pairs
of the chosen layers in the INT8 graph. The recommended recipe is ``quantize_int8`` with those
layers in ``exclude``, calibrated as usual.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import onnx_ir as ir

from genie.inputs import Feeds, outputs_of
from modelps.fidelity import per_sample_scores
from modelps.measured import Outputs, trace

__all__ = ["FloatSet", "keep_in_float", "leave_one_out", "quantized_nodes", "search_float_set", "sensitivity_proxy"]

_QDQ = frozenset({"QuantizeLinear", "DequantizeLinear"})


def quantized_nodes(qdq: ir.Model) -> list[str]:
    """Names of the compute nodes of a QDQ model that read at least one dequantized tensor."""
    names = []
    for node in qdq.graph:
        if node.op_type in _QDQ or not node.name:
            continue
        if any(
            v is not None and v.producer() is not None and v.producer().op_type == "DequantizeLinear"
            for v in node.inputs
        ):
            names.append(node.name)
    return names


def _float_source(value: ir.Value, graph: ir.Graph, made: dict[str, ir.Value]) -> ir.Value | None:
    """The float tensor a dequantized input stands for: the Quantize's input, or the dequantized weight."""
    dq = value.producer()
    if dq is None or dq.op_type != "DequantizeLinear":
        return None
    source = dq.inputs[0]
    q = source.producer() if source is not None else None
    if q is not None and q.op_type == "QuantizeLinear":
        return _saturated(q, graph, made)
    if source is None or source.const_value is None:
        return None
    if value.name in made:
        return made[value.name]
    scale = dq.inputs[1].const_value.numpy() if dq.inputs[1] is not None and dq.inputs[1].const_value else None
    if scale is None:
        return None
    zero = dq.inputs[2].const_value.numpy() if len(dq.inputs) > 2 and dq.inputs[2] is not None else 0
    data = source.const_value.numpy().astype(np.float32)
    axis = dq.attributes.get_int("axis", 1)
    if np.ndim(scale) == 1 and data.ndim > 1:
        shape = [1] * data.ndim
        shape[axis] = -1
        scale, zero = np.reshape(scale, shape), np.reshape(zero, shape) if np.ndim(zero) == 1 else zero
    floats = ((data - np.asarray(zero, np.float32)) * scale).astype(np.float32)
    new = ir.Value(name=f"{value.name}_float", type=ir.TensorType(ir.DataType.FLOAT), shape=ir.Shape(floats.shape))
    new.const_value = ir.tensor(floats, name=new.name)
    graph.register_initializer(new)
    made[value.name] = new
    return new


_RANGES = {ir.DataType.UINT8: (0, 255), ir.DataType.INT8: (-128, 127)}


def _saturated(q: ir.Node, graph: ir.Graph, made: dict[str, ir.Value]) -> ir.Value:
    """The ``QuantizeLinear``'s input clipped to its range, without the rounding.

    ONNX Runtime's quantizer drops a ``Relu`` or ``Clip`` in front of a ``QuantizeLinear`` whose
    range already clips there, so the Quantize's input may be the tensor *before* the activation:
    a layer kept in float must still see it clipped.
    """
    key = f"{q.outputs[0].name}:saturated"
    if key in made:
        return made[key]
    x, scale = q.inputs[0], q.inputs[1]
    zero = q.inputs[2] if len(q.inputs) > 2 else None
    scale_v = scale.const_value.numpy() if scale is not None and scale.const_value is not None else None
    zero_v = zero.const_value.numpy() if zero is not None and zero.const_value is not None else np.zeros((), np.uint8)
    bounds = _RANGES.get(ir.DataType.from_numpy(zero_v.dtype))
    if x is None or scale_v is None or np.size(scale_v) != 1 or np.size(zero_v) != 1 or bounds is None:
        made[key] = x
        return x
    step, offset = float(np.reshape(scale_v, ())), float(np.reshape(zero_v, ()))
    limits = []
    for end, bound in zip(("min", "max"), bounds, strict=True):
        value = ir.Value(
            name=f"{q.outputs[0].name}_float_{end}", type=ir.TensorType(ir.DataType.FLOAT), shape=ir.Shape([])
        )
        value.const_value = ir.tensor(np.array((bound - offset) * step, np.float32), name=value.name)
        graph.register_initializer(value)
        limits.append(value)
    clip = ir.node("Clip", [x, *limits], name=f"{q.name}_float_clip")
    clip.outputs[0].name = f"{q.outputs[0].name}_float"
    graph.insert_after(q, clip)
    made[key] = clip.outputs[0]
    return clip.outputs[0]


def keep_in_float(qdq: ir.Model, names: Sequence[str]) -> ir.Model:
    """A copy of the QDQ model in which the named nodes read float tensors (their QDQ pairs bypassed)."""
    clone = qdq.clone()
    wanted = set(names)
    made: dict[str, ir.Value] = {}
    for node in clone.graph:
        if node.name not in wanted:
            continue
        for index, value in enumerate(node.inputs):
            if value is None:
                continue
            source = _float_source(value, clone.graph, made)
            if source is not None:
                node.replace_input_with(index, source)
    return clone


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.nan_to_num(np.asarray(a, np.float64)), np.nan_to_num(np.asarray(b, np.float64))
    return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(a)), 1e-12))


def sensitivity_proxy(base: ir.Model, qdq: ir.Model, feeds: Feeds) -> dict[str, float]:
    """Each quantized node's own error: its output's relative error minus its inputs' largest one."""
    float_trace, int8_trace = trace(base, feeds), trace(qdq, feeds)
    if not float_trace.values or not int8_trace.values:
        return {}
    reference = float_trace.values
    quantized = int8_trace.values

    def error(name: str | None) -> float:
        if name is None or name not in reference or name not in quantized:
            return 0.0
        if reference[name].shape != quantized[name].shape:
            return 0.0
        return _relative(reference[name], quantized[name])

    proxy = {}
    for node in qdq.graph:
        if node.name not in set(quantized_nodes(qdq)) or not node.outputs:
            continue
        inputs = []
        for value in node.inputs:
            dq = value.producer() if value is not None else None
            if dq is not None and dq.op_type == "DequantizeLinear":
                q = dq.inputs[0].producer() if dq.inputs[0] is not None else None
                inputs.append(q.inputs[0].name if q is not None and q.op_type == "QuantizeLinear" else None)
        own = error(node.outputs[0].name) - max((error(n) for n in inputs), default=0.0)
        proxy[str(node.name)] = max(own, 0.0)
    return proxy


def leave_one_out(
    qdq: ir.Model,
    names: Sequence[str],
    reference: Outputs,
    held: Feeds,
    stop: Callable[[], bool] = lambda: False,
) -> dict[str, float]:
    """Mean held-out score with each named node alone kept in float (as many as time allows)."""
    result = {}
    for name in names:
        if stop():
            break
        result[name] = float(np.mean(per_sample_scores(reference, outputs_of(keep_in_float(qdq, [name]), held))))
    return result


@dataclasses.dataclass(frozen=True)
class FloatSet:
    """Layers kept in float and the held-out scores that gave (per sample)."""

    names: tuple[str, ...]
    scores: np.ndarray

    @property
    def score(self) -> float:
        """Mean held-out score."""
        return float(np.mean(self.scores))


def search_float_set(
    qdq: ir.Model,
    ranked: Sequence[str],
    reference: Outputs,
    held: Feeds,
    floor: float,
    stop: Callable[[], bool] = lambda: False,
    max_fraction: float = 0.5,
) -> list[FloatSet]:
    """Float sets of 1, 2, 4, ... of the top ``ranked`` layers, up to the first that reaches ``floor``."""
    tried: list[FloatSet] = []
    limit = max(1, int(len(ranked) * max_fraction))
    k = 1
    while k <= limit and not stop():
        names = tuple(ranked[:k])
        scores = per_sample_scores(reference, outputs_of(keep_in_float(qdq, names), held))
        tried.append(FloatSet(names, scores))
        if tried[-1].score >= floor:
            break
        k *= 2
    return tried


def ranked_layers(proxy: Mapping[str, float], checked: Mapping[str, float]) -> list[str]:
    """Layers by sensitivity: those checked exactly first (by their measured gain), then by the proxy."""
    exact = sorted(checked, key=lambda n: -checked[n])
    return exact + sorted((n for n in proxy if n not in checked), key=lambda n: -proxy[n])
