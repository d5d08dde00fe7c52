"""Weights without downloads: seeded original initialisation + BatchNorm recalibration, or demo training.

* ``seeded``: ``torch.manual_seed(seed)``, the original code's initialisers, then the BatchNorm
  running statistics are re-estimated on augmented crops of scikit-image sample photographs, so
  activations have unit scale instead of exploding or collapsing. Cached under
  ``$MODELPS_HOME/zoo/weights``.
* ``demo``: a model trained on scikit-learn digits by :mod:`zoo.train`, cached under
  ``$MODELPS_HOME/zoo/weights`` and reproducible from the seed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import torch
from torch import nn

from zoo.batchnorm import calibration_inputs, recalibrate_bn
from zoo.cache import DEMO_VERSION, cached_file
from zoo.checkpoint import load_checkpoint
from zoo.errors import ZooError
from zoo.registry import ModelSpec

__all__ = ["WEIGHTS", "demo_weights_path", "prepare", "recalibrate_bn", "seeded_module", "seeded_weights_path"]

logger = logging.getLogger(__name__)

WEIGHTS = ("seeded", "demo")
SEEDED_VERSION = 1


def seeded_module(spec: ModelSpec, seed: int = 0, variant: str | None = None, calibrate: bool = True) -> nn.Module:
    """Return the deployed network with seeded original initialisers and recalibrated BatchNorm (eval mode)."""
    torch.manual_seed(seed)
    module = spec.build(variant)
    if calibrate:
        recalibrate_bn(module, calibration_inputs(spec, seed))
    return module.eval()


def seeded_weights_path(spec: ModelSpec, seed: int = 0, variant: str | None = None) -> os.PathLike[str]:
    """Path of the cached seeded, BatchNorm-recalibrated state dict (computed on first use, under a lock)."""

    def produce(tmp: os.PathLike[str]) -> None:
        torch.save(seeded_module(spec, seed, variant).state_dict(), tmp)

    tag = f"-{variant}" if variant else ""
    return cached_file(f"weights/{spec.name}{tag}-seeded-s{seed}-v{SEEDED_VERSION}.pt", produce)


def demo_weights_path(spec: ModelSpec, seed: int = 0) -> os.PathLike[str]:
    """Path of the cached demo state dict of ``spec`` (trained on first use, under a lock)."""

    def produce(tmp: os.PathLike[str]) -> None:
        from zoo.train import train_demo

        torch.save(train_demo(spec, seed), tmp)

    return cached_file(f"weights/{spec.name}-demo-s{seed}-v{DEMO_VERSION}.pt", produce)


def prepare(
    spec: ModelSpec,
    weights: str = "seeded",
    *,
    seed: int = 0,
    variant: str | None = None,
    checkpoint: str | os.PathLike[str] | Mapping[str, torch.Tensor] | None = None,
) -> nn.Module:
    """Return the deployed torch module of ``spec`` in eval mode, with the requested weights.

    ``checkpoint`` (a user's state dict or file) overrides ``weights``.

    Raises:
        ZooError: Unknown ``weights``.
        CheckpointError: The checkpoint does not fit.
    """
    if checkpoint is not None:
        torch.manual_seed(seed)
        return load_checkpoint(spec.build(variant), spec, checkpoint, variant).eval()
    if weights == "seeded":
        torch.manual_seed(seed)
        module = spec.build(variant)
        module.load_state_dict(torch.load(seeded_weights_path(spec, seed, variant), weights_only=True))
        return module.eval()
    if weights == "demo":
        torch.manual_seed(seed)
        module = spec.build(variant)
        return load_checkpoint(module, spec, demo_weights_path(spec, seed), variant).eval()
    raise ZooError(f"unknown weights {weights!r}; choose one of: {', '.join(WEIGHTS)}")
