"""Distillation fine-tuning of an ONNX model's weights towards a teacher model, in PyTorch.

After pruning, least-squares reconstruction re-fits each layer on its own; a short end-to-end
fine-tune lets all layers compensate together (NetAdapt's short-term fine-tune, with the original
model as the teacher instead of labels). The student graph is executed node by node with
``torch.nn.functional`` (no conversion to another model format); the float weights, biases and
slopes read by ``Conv``/``ConvTranspose``/``Gemm``/``MatMul``/``BatchNormalization``/``PRelu``/
``LayerNormalization`` are trained and written back into the initializers; the graph itself is
unchanged. Teacher outputs come from ONNX Runtime on the same (augmented) inputs. BatchNorm runs
in inference mode. The student trains on a CUDA GPU when PyTorch sees one (``device="auto"``),
else on the CPU; on a GPU the teacher runs there too, with the same executor.

PyTorch is imported only when :func:`distill` runs (``pip install torch``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import onnx_ir as ir

from modelps.compress.torch_ops import OPS, UnsupportedOp

__all__ = ["TRAINABLE_OPS", "UnsupportedOp", "distill", "distill_for_edit", "unsupported_ops"]

logger = logging.getLogger(__name__)

TRAINABLE_OPS = {
    "Conv": (1, 2),
    "ConvTranspose": (1, 2),
    "Gemm": (1, 2),
    "MatMul": (1,),
    "PRelu": (1,),
    "LayerNormalization": (1, 2),
}
_BN_TRAINABLE = (1, 2)  # BatchNormalization scale and bias; mean and variance stay


def unsupported_ops(model: ir.Model) -> list[str]:
    """The op types of ``model`` the executor cannot run (empty when it can run the whole graph)."""
    return sorted({n.op_type for n in model.graph if n.domain not in ("", "ai.onnx") or n.op_type not in OPS})


def distill(
    student: ir.Model,
    teacher: ir.Model,
    feeds: Sequence[Mapping[str, np.ndarray]],
    *,
    steps: int = 200,
    batch: int = 8,
    lr: float = 3e-4,
    seed: int = 0,
    hints: bool = True,
    hint_weight: float = 1.0,
    threads: int | None = None,
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> ir.Model:
    """Return a copy of ``student`` whose weights were trained to reproduce ``teacher``'s outputs.

    ``feeds`` are calibration inputs (one sample or a small batch each); every step draws ``batch``
    samples and flips image-like inputs left-right half of the time, runs the teacher on them (ONNX
    Runtime on the CPU, the executor on a GPU) and takes an Adam step on the mean squared error of
    every output and (``hints``) of every residual sum both models share, each relative to the
    teacher's variance. Learning rates are ``lr`` times each weight tensor's root mean square
    (warm-up, then cosine decay). The student runs on ``device`` (a torch device name; ``"auto"``:
    ``"cuda"`` when available).

    Raises:
        UnsupportedOp: The student uses an op the executor does not run.
        ValueError: No feeds, outputs of the two models do not match, or ``device`` is unknown or
            not available.
    """
    import torch

    missing = unsupported_ops(student)
    if missing:
        raise UnsupportedOp(f"fine-tuning cannot run op(s) {missing} in PyTorch")
    if not feeds:
        raise ValueError("distillation needs calibration inputs")
    outputs = [str(v.name) for v in student.graph.outputs]
    if outputs != [str(v.name) for v in teacher.graph.outputs]:
        raise ValueError(f"student outputs {outputs} differ from the teacher's")
    names = [str(v.name) for v in student.graph.inputs if v.name in feeds[0]]
    pool = {n: np.concatenate([np.asarray(f[n]) for f in feeds], axis=0) for n in names}
    net = _Executor(student, _device(device))
    split = _fixed_batch(student) or _fixed_batch(teacher)  # run one sample at a time
    shared = _shared_sums(student, teacher) if hints else []
    teacher_net = _Teacher(teacher, outputs + shared, net.device, threads)
    probe = {k: v[:1] for k, v in pool.items()}
    targets_at = outputs + _same_shape(shared, net, teacher_net, probe)
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        scales = _scales(teacher_net, targets_at, pool)
        per_hint = hint_weight / max(1, len(targets_at) - len(outputs))
        weights = [1.0 if name in outputs else per_hint for name in targets_at]
        optimizer = torch.optim.Adam([{"params": [t], "lr": lr * _rms(t), "base": lr * _rms(t)} for t in net.trainable])
        rng = np.random.default_rng(seed)
        for step in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = group["base"] * _schedule(step, steps)
            optimizer.zero_grad(set_to_none=True)
            for part in _parts(_augment(pool, batch, rng), split):
                loss = _loss(net, teacher_net, part, targets_at, scales, weights)
                (loss / (batch if split else 1)).backward()
            optimizer.step()
            if progress is not None:
                progress(step + 1, steps)
            if step % 25 == 0 or step == steps - 1:
                logger.info("fine-tune step %d/%d: loss %.4g", step + 1, steps, float(loss.detach()))
        return net.export()
    finally:
        torch.set_num_threads(previous_threads)


def distill_for_edit(
    student: ir.Model,
    teacher: ir.Model,
    feeds: Sequence[Mapping[str, np.ndarray]],
    *,
    steps: int,
    lr: float,
    seed: int,
    error: Callable[[str], Exception],
) -> ir.Model:
    """:func:`distill` for an edit: a missing PyTorch or an op it cannot run is raised as ``error(message)``."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:  # pragma: no cover - torch is part of the test environment
        raise error("fine-tuning needs PyTorch: pip install torch==2.13.0")
    try:
        return distill(student, teacher, feeds, steps=steps, lr=lr, seed=seed)
    except UnsupportedOp as exc:
        raise error(str(exc)) from exc


def _device(name: str) -> Any:
    """The torch device for ``name`` (``"auto"``: the first CUDA GPU when there is one)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown fine-tuning device {name!r}: use 'auto', 'cpu' or 'cuda[:N]'") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"fine-tuning device {name!r} is not available: PyTorch sees no CUDA GPU")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported fine-tuning device {name!r}: use 'auto', 'cpu' or 'cuda[:N]'")
    return device


def _schedule(step: int, steps: int) -> float:
    """Learning-rate factor: linear warm-up over the first 10% of steps, then cosine decay."""
    warmup = max(1, steps // 10)
    return min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))


def _loss(
    net: _Executor,
    teacher: _Teacher,
    inputs: Mapping[str, np.ndarray],
    names: Sequence[str],
    scales: Sequence[float],
    weights: Sequence[float],
) -> Any:
    """Weighted sum over ``names`` of the student's mean squared error to the teacher, relative to its variance."""
    import torch

    targets = teacher.run(names, inputs)
    predicted = net(net.feed(inputs), names)
    return sum(
        w * torch.mean((predicted[o] - t) ** 2) / s for o, t, s, w in zip(names, targets, scales, weights, strict=True)
    )


def _fixed_batch(model: ir.Model) -> bool:
    """Whether some graph input has a fixed leading dimension (the model runs one sample at a time)."""
    for value in model.graph.inputs:
        shape = value.shape
        if shape is not None and len(shape) and isinstance(shape[0], int):
            return True
    return False


def _parts(inputs: Mapping[str, np.ndarray], split: bool) -> list[dict[str, np.ndarray]]:
    if not split:
        return [dict(inputs)]
    count = len(next(iter(inputs.values())))
    return [{k: v[i : i + 1] for k, v in inputs.items()} for i in range(count)]


def _rms(tensor: Any) -> float:
    """Root mean square of a tensor: learning rates are relative to each tensor's scale."""
    return float(tensor.detach().pow(2).mean().sqrt()) + 1e-8


def _shared_sums(student: ir.Model, teacher: ir.Model) -> list[str]:
    """Residual sums (``Add`` outputs, not graph outputs) that both models have by name."""
    teacher_names = {v.name for n in teacher.graph for v in n.outputs}
    outputs = {v.name for v in student.graph.outputs}
    return [
        str(n.outputs[0].name)
        for n in student.graph
        if n.op_type == "Add" and n.outputs[0].name in teacher_names and n.outputs[0].name not in outputs
    ]


def _same_shape(names: Sequence[str], net: _Executor, teacher: _Teacher, probe: Mapping[str, np.ndarray]) -> list[str]:
    """The tensors of ``names`` whose shape is the same in the student and the teacher (on ``probe``)."""
    import torch

    if not names:
        return []
    with torch.no_grad():
        mine = net(net.feed(probe), names)
    theirs = teacher.run(names, probe)
    return [n for n, t in zip(names, theirs, strict=True) if mine[n].shape == t.shape]


def _scales(teacher: _Teacher, outputs: Sequence[str], pool: Mapping[str, np.ndarray]) -> list[float]:
    """The variance of each teacher tensor over the pool (the loss is relative to it)."""
    import torch

    count = len(next(iter(pool.values())))
    parts = [teacher.run(outputs, {k: v[i : i + 1] for k, v in pool.items()}) for i in range(min(count, 32))]
    return [float(torch.cat([p[j] for p in parts]).double().var(unbiased=False)) + 1e-12 for j in range(len(outputs))]


def _augment(pool: Mapping[str, np.ndarray], batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``batch`` samples drawn from the pool; image-like (4-D float) inputs flipped left-right half the time."""
    count = len(next(iter(pool.values())))
    pick = rng.integers(0, count, size=batch)
    flip = rng.uniform(size=batch) < 0.5
    out = {}
    for name, data in pool.items():
        drawn = data[pick]
        if data.ndim == 4 and np.issubdtype(data.dtype, np.floating):
            drawn[flip] = drawn[flip][..., ::-1]
        out[name] = np.ascontiguousarray(drawn)
    return out


class _Teacher:
    """The teacher model's tensors for a batch, as tensors on the student's device.

    On a CUDA device the teacher runs in the same torch executor (no gradients), so the GPU is not
    left waiting for the CPU; otherwise, or where the executor cannot run the teacher, in ONNX Runtime.
    """

    def __init__(self, model: ir.Model, names: Sequence[str], device: Any, threads: int | None) -> None:
        from modelps.compress.reconstruct import expose
        from modelps.runtime import session_for

        self.device = device
        self.net: _Executor | None = None
        self.session: Any = None
        if device.type == "cuda" and not unsupported_ops(model):
            self.net = _Executor(model, device, train=False)
        else:
            self.session = session_for(expose(model, list(names)), threads=threads)

    def run(self, names: Sequence[str], inputs: Mapping[str, np.ndarray]) -> list[Any]:
        import torch

        if self.net is not None:
            with torch.no_grad():
                found = self.net(self.net.feed(inputs), names)
            return [found[n] for n in names]
        return [torch.from_numpy(t).to(self.device) for t in self.session.run(list(names), dict(inputs))]


class _Executor:
    """Runs an ONNX graph with torch ops; trainable initializers are leaf tensors."""

    def __init__(self, model: ir.Model, device: Any = "cpu", *, train: bool = True) -> None:
        self.model = model.clone() if train else model
        self.graph = self.model.graph
        self.device = device
        self.consts: dict[str, Any] = {}
        self.params: dict[str, Any] = {}
        trainable = _trainable_names(self.graph) if train else set()
        for name, value in self.graph.initializers.items():
            if value.const_value is None:
                continue
            array = np.asarray(value.const_value.numpy())
            tensor = self.to_device(array)
            if name in trainable and np.issubdtype(array.dtype, np.number):
                if not np.issubdtype(array.dtype, np.floating):  # quantized: trained in units of its step
                    tensor = tensor.float()
                tensor.requires_grad_(True)
                self.params[name] = tensor
            self.consts[name] = tensor
        self.nodes = [node for node in self.graph if node.op_type != "Constant"]
        for node in self.graph:  # constants are evaluated once, on the device
            if node.op_type == "Constant":
                self.consts[node.outputs[0].name] = self.to_device(_constant_value(node))
        self.trainable = list(self.params.values())

    def to_device(self, array: np.ndarray) -> Any:
        """``array`` as a torch tensor on the executor's device (a copy)."""
        import torch

        return torch.tensor(np.asarray(array), device=self.device)

    def feed(self, inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Graph inputs as torch tensors on the executor's device."""
        return {k: self.to_device(v) for k, v in inputs.items()}

    def __call__(self, inputs: Mapping[str, Any], names: Sequence[str] = ()) -> dict[str, Any]:
        env: dict[str, Any] = dict(self.consts)
        env.update(inputs)
        for node in self.nodes:
            args = [env[v.name] if v is not None and v.name else None for v in node.inputs]
            results = OPS[node.op_type](node, args)
            if not isinstance(results, tuple):
                results = (results,)
            for value, result in zip(node.outputs, results, strict=False):
                env[value.name] = result
        return {name: env[name] for name in names or [v.name for v in self.graph.outputs]}

    def export(self) -> ir.Model:
        """The model with the trained values written into its initializers."""
        for name, tensor in self.params.items():
            value = self.graph.initializers[name]
            dtype = value.const_value.numpy().dtype
            array = tensor.detach().cpu().numpy()
            if not np.issubdtype(dtype, np.floating):
                info = np.iinfo(dtype)
                array = np.clip(np.round(array), info.min, info.max)
            value.const_value = ir.tensor(array.astype(dtype), name=name)
        return self.model


def _constant_value(node: ir.Node) -> np.ndarray:
    """The value a ``Constant`` node holds (``value`` or one of the ``value_*`` scalar/list forms)."""
    attr = next(iter(node.attributes.values()), None)
    if attr is None or attr.name in ("sparse_value", "value_string", "value_strings"):
        raise UnsupportedOp(f"Constant {node.name!r}: only dense numeric values are supported for fine-tuning")
    if attr.name == "value":
        return np.array(attr.value.numpy())
    dtype = np.float32 if attr.name.startswith("value_float") else np.int64
    return np.array(attr.value, dtype=dtype)


def _trainable_names(graph: ir.Graph) -> set[str]:
    """Initializers in the weight/bias slots of trainable ops, or the quantized values dequantized into them."""
    names = set()
    for node in graph:
        slots = _BN_TRAINABLE if node.op_type == "BatchNormalization" else TRAINABLE_OPS.get(node.op_type, ())
        for i in slots:
            value = node.inputs[i] if i < len(node.inputs) else None
            producer = value.producer() if value is not None else None
            if producer is not None and producer.op_type == "DequantizeLinear" and producer.inputs[0] is not None:
                value = producer.inputs[0]
            if value is not None and value.is_initializer():
                names.add(str(value.name))
    return names
