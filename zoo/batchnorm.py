"""BatchNorm recalibration: re-estimate running statistics on calibration crops (imports torch).

Both weight sources use it: :mod:`zoo.weights` after the seeded initialisers, and :mod:`zoo.train`
before and after demo training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from zoo.data import calibration_images, normalize
from zoo.registry import ModelSpec

__all__ = ["CALIBRATION_IMAGES", "calibration_inputs", "recalibrate_bn"]

CALIBRATION_IMAGES = 64


@torch.no_grad()
def recalibrate_bn(module: nn.Module, inputs: np.ndarray, batch: int = 32) -> nn.Module:
    """Re-estimate every BatchNorm's running mean/var on ``inputs`` (cumulative average over batches)."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m, m.momentum) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    module.eval()
    for m in norms:
        m.train()
    try:
        for start in range(0, len(inputs), batch):
            chunk = inputs[start : start + batch]
            if len(chunk) > 1:
                module(torch.from_numpy(np.ascontiguousarray(chunk)))
    finally:
        for m, momentum in saved:
            m.momentum = momentum
        module.eval()
    return module


def calibration_inputs(spec: ModelSpec, seed: int = 0, n: int = CALIBRATION_IMAGES) -> np.ndarray:
    """Normalised calibration crops for ``spec``'s input size."""
    return normalize(calibration_images(spec.input_shape, n, seed), spec.mean, spec.std)
