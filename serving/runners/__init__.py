"""Backends behind one :class:`Runner` interface, and the choice of backend for a model config."""

from __future__ import annotations

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
    "runners_for",
]


def runners_for(config: ModelConfig, path: Path, settings: OrtSettings | None = None) -> list[Runner]:
    """Make inactive runners, one per model instance (``tensorrt_plan`` -> TensorRT, else ONNX Runtime).

    ONNX Runtime instances share one session (its ``run`` is thread-safe), so N instances cost one
    copy of the weights; TensorRT instances each get their own execution context and stream.
    """
    if config.platform == "tensorrt_plan":
        return [TrtRunner(TrtEngineLoader(path)) for _ in range(config.instance_count)]
    providers = providers_for(config.instance_kind, config.accelerator)
    loader = OrtSessionLoader(path, providers, settings, shared=True)
    return [OrtRunner(loader) for _ in range(config.instance_count)]
