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
    "runner_for",
]


def runner_for(config: ModelConfig, path: Path, settings: OrtSettings | None = None) -> Runner:
    """An inactive runner for one model version (``tensorrt_plan`` -> TensorRT, else ONNX Runtime)."""
    if config.platform == "tensorrt_plan":
        return TrtRunner(TrtEngineLoader(path))
    providers = providers_for(config.instance_kind, config.accelerator)
    return OrtRunner(OrtSessionLoader(path, providers, settings))
