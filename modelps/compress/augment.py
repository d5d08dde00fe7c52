"""More image inputs like a few given ones: random crops resized back, with mild photometric jitter.

Used when a user gives fewer calibration or held-out images than a measurement needs. Unlike
unrelated photos, the new inputs stay close to the given ones' content (text stays text, a person
crop stays a person crop), so quantization ranges and fidelity estimates drawn from them describe
the user's data. No flips: mirrored text or digits are not in any OCR model's input distribution.
Deterministic for a seed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MIN_SIDE", "augment_images"]

MIN_SIDE = 0.75
"""The smallest crop side, as a fraction of the image side (the aspect ratio is kept)."""


def augment_images(arrays: list[np.ndarray], count: int, seed: int) -> list[np.ndarray]:
    """``count`` new ``N x C x H x W`` arrays, each derived from one of ``arrays`` (taken in turn).

    Each is a random crop of ``MIN_SIDE``..1 of the height and width (same fraction for both),
    resized back to ``H x W`` (bilinear), then per channel scaled about its mean by 0.9..1.1 and
    shifted by -0.1..0.1 of its standard deviation.

    Raises:
        ValueError: ``arrays`` is empty or an array is not 4-D.
    """
    if not arrays:
        raise ValueError("no image to augment")
    for array in arrays:
        if array.ndim != 4:
            raise ValueError(f"expected N x C x H x W arrays, got shape {list(array.shape)}")
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        source = arrays[k % len(arrays)]
        x = _crop_resized(source.astype(np.float32), rng)
        mean = x.mean(axis=(2, 3), keepdims=True)
        std = x.std(axis=(2, 3), keepdims=True)
        gain = rng.uniform(0.9, 1.1, size=mean.shape).astype(np.float32)
        shift = rng.uniform(-0.1, 0.1, size=mean.shape).astype(np.float32)
        out.append(((x - mean) * gain + mean + shift * std).astype(source.dtype))
    return out


def _crop_resized(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random crop of ``x`` (same fraction of both sides), resized back bilinearly."""
    height, width = x.shape[2:]
    side = rng.uniform(MIN_SIDE, 1.0)
    ch, cw = max(1, round(height * side)), max(1, round(width * side))
    top, left = int(rng.integers(0, height - ch + 1)), int(rng.integers(0, width - cw + 1))
    crop = x[:, :, top : top + ch, left : left + cw]
    return _resize(crop, height, width)


def _resize(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of the last two axes (pixel centres aligned)."""
    rows = _axis_weights(x.shape[2], height)
    cols = _axis_weights(x.shape[3], width)
    x = x[:, :, rows[0], :] * (1 - rows[2])[:, None] + x[:, :, rows[1], :] * rows[2][:, None]
    return x[:, :, :, cols[0]] * (1 - cols[2]) + x[:, :, :, cols[1]] * cols[2]


def _axis_weights(size: int, new: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    centres = (np.arange(new, dtype=np.float32) + 0.5) * size / new - 0.5
    centres = np.clip(centres, 0, size - 1)
    low = np.floor(centres).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    return low, high, (centres - low).astype(np.float32)
