"""Backends behind one :class:`Runner` interface, and the choice of backend for a model config."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from serving.config import ModelConfig
from serving.runners.base import InvalidInputError, Runner
from serving.runners.onnxruntime import OrtRunner, OrtSessionLoader, OrtSettings, providers_for
from serving.runners.tensorrt import TrtEngineLoader, TrtRunner

__all__ = [
    "InvalidInputError",
    "OrtRunner",
    "OrtSessionLoader",
    "OrtSettings",
    "Runner",
    "TrtEngineLoader",
    "TrtRunner",
    "available_cores",
    "runners_for",
    "solo_runner_for",
]


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cpu(config: ModelConfig) -> bool:
    return config.platform != "tensorrt_plan" and config.instance_kind != "KIND_GPU"


def runners_for(config: ModelConfig, path: Path, settings: OrtSettings | None = None) -> list[Runner]:
    """Make inactive runners, one per model instance (``tensorrt_plan`` -> TensorRT, else ONNX Runtime).

    ONNX Runtime instances share one session (its ``run`` is thread-safe), so N instances cost one
    copy of the weights; TensorRT instances each get their own execution context and stream. A CPU
    config without an instance count gets one instance per core, and each instance's session as
    many intra-op threads as leave no core oversubscribed (``cores // instances``, at least 1)
    unless ``settings.intra_op_threads`` says otherwise.
    """
    settings = settings or OrtSettings()
    if config.platform == "tensorrt_plan":
        return [TrtRunner(TrtEngineLoader(path)) for _ in range(config.instance_count or 1)]
    providers = providers_for(config.instance_kind, config.accelerator)
    count = config.instance_count or (available_cores() if _cpu(config) else 1)
    if _cpu(config) and settings.intra_op_threads is None:
        settings = dataclasses.replace(settings, intra_op_threads=max(1, available_cores() // count))
    loader = OrtSessionLoader(path, providers, settings, shared=True)
    return [OrtRunner(loader) for _ in range(count)]


def solo_runner_for(config: ModelConfig, path: Path, settings: OrtSettings | None = None) -> Runner | None:
    """Make the runner a CPU model uses when a request runs alone: one session over every core.

    Instances with fewer intra-op threads than cores leave cores idle when only one request is in
    flight; the worker then runs it on this session instead. ``None`` when the instances already
    use every core, for GPU backends, or when ``settings.intra_op_threads`` is set explicitly.
    """
    settings = settings or OrtSettings()
    if not _cpu(config) or settings.intra_op_threads is not None:
        return None
    cores = available_cores()
    count = config.instance_count or cores
    if max(1, cores // count) >= cores:
        return None
    wide = dataclasses.replace(settings, intra_op_threads=cores)
    providers = providers_for(config.instance_kind, config.accelerator)
    return OrtRunner(OrtSessionLoader(path, providers, wide, shared=True))
