"""Images the zoo needs, from data shipped inside packages (numpy only, no torch).

* :func:`calibration_images`: augmented crops of scikit-image's sample photographs, used to
  recalibrate BatchNorm statistics of seeded networks.
* :func:`digit_images`: scikit-learn's 8x8 handwritten digits rendered at a family's input size
  (upsampled, placed on a canvas, coloured per "camera"), used to train and evaluate demo models.
* :func:`demo_task_data`: the fixed evaluation sets of the ``reid``, ``face`` and ``ssl`` demo tasks.

Every function is deterministic given its ``seed``.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np

from zoo.errors import ZooError
from zoo.registry import CIFAR_MEAN, CIFAR_STD, FACE_MEAN, FACE_STD, IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "TASKS",
    "TASK_SHAPES",
    "calibration_images",
    "demo_task_data",
    "digit_images",
    "digits_split",
    "normalize",
]

logger = logging.getLogger(__name__)

TASKS = ("reid", "face", "ssl")
TASK_SHAPES = {"reid": (3, 256, 128), "face": (3, 112, 112), "ssl": (3, 32, 32)}
TASK_NORM = {"reid": (IMAGENET_MEAN, IMAGENET_STD), "face": (FACE_MEAN, FACE_STD), "ssl": (CIFAR_MEAN, CIFAR_STD)}
_SAMPLES = (
    "astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "colorwheel",
    "camera", "coins", "horse", "moon", "page", "text", "grass", "gravel", "brick",
)  # fmt: skip
_TRAIN_POOL = 1100  # digits[perm[:1100]] train demo models; the rest are held out for evaluation


def normalize(images: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(x - mean) / std per channel for NCHW images in [0, 1]; float32."""
    m = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    return ((images.astype(np.float32) - m) / s).astype(np.float32)


@functools.cache
def _sample_photos() -> tuple[np.ndarray, ...]:
    import skimage.data

    photos = []
    for name in _SAMPLES:
        try:
            img = getattr(skimage.data, name)()
        except Exception as exc:  # a sample that needs a download (pooch) is skipped
            logger.debug("skipping skimage sample %s: %s", name, exc)
            continue
        img = np.asarray(img, np.float32) / (255.0 if img.dtype == np.uint8 else 1.0)
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        photos.append(np.ascontiguousarray(img[:, :, :3]))
    if not photos:
        raise ZooError("no scikit-image sample images are available for BatchNorm calibration")
    return tuple(photos)


def _resize(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    from skimage.transform import resize

    return np.asarray(resize(img, hw, order=1, mode="reflect", anti_aliasing=True), np.float32)


def calibration_images(shape: tuple[int, int, int], n: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` augmented random crops of scikit-image photographs as NCHW float32 in [0, 1].

    Augmentation: random crop (30-100% of the side, any aspect), horizontal flip, brightness and
    contrast jitter, then a resize to ``shape``'s height and width.
    """
    rng = np.random.default_rng(seed)
    photos = _sample_photos()
    _, h, w = shape
    out = np.empty((n, 3, h, w), np.float32)
    for i in range(n):
        img = photos[i % len(photos)]
        ph, pw = img.shape[:2]
        ch, cw = (int(s * rng.uniform(0.3, 1.0)) for s in (ph, pw))
        y, x = rng.integers(0, ph - ch + 1), rng.integers(0, pw - cw + 1)
        crop = _resize(img[y : y + ch, x : x + cw], (h, w))
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = (crop - 0.5) * rng.uniform(0.7, 1.3) + 0.5 + rng.uniform(-0.15, 0.15)
        out[i] = np.clip(crop, 0, 1).transpose(2, 0, 1)
    return out


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    perm = np.random.default_rng(12345).permutation(len(d.target))
    return (d.images[perm] / 16.0).astype(np.float32), d.target[perm].astype(np.int64)


def digits_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """8x8 digits in [0, 1] and labels of the ``train`` pool or the held-out ``test`` pool."""
    images, labels = _digits()
    if split == "train":
        return images[:_TRAIN_POOL], labels[:_TRAIN_POOL]
    if split == "test":
        return images[_TRAIN_POOL:], labels[_TRAIN_POOL:]
    raise ZooError(f"unknown digits split {split!r} (train or test)")


def _upsample(d: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upsampling of one 8x8 digit to size x size (separable interpolation)."""
    coords = (np.arange(size) + 0.5) * 8 / size - 0.5
    lo = np.clip(np.floor(coords).astype(int), 0, 7)
    hi = np.clip(lo + 1, 0, 7)
    t = np.clip(coords - lo, 0, 1).astype(np.float32)
    rows = d[lo] * (1 - t)[:, None] + d[hi] * t[:, None]
    return rows[:, lo] * (1 - t)[None, :] + rows[:, hi] * t[None, :]


def digit_images(
    digits: np.ndarray, task: str, seed: int = 0, camera: np.ndarray | None = None, augment: bool = True
) -> np.ndarray:
    """Render 8x8 digits (N x 8 x 8 in [0, 1]) as NCHW float32 images of ``task``'s input size, in [0, 1].

    ``reid``: the digit (112 px) stands on a 256x128 canvas at a random height, drawn in a random
    "clothing" colour; ``camera`` (0/1 per image) changes tint and brightness. ``face``: the digit
    fills a 112x112 crop with a small random shift. ``ssl``: the digit is 28 px on a 32x32 canvas.
    ``augment=False`` gives the centred, untinted rendering.
    """
    if task not in TASK_SHAPES:
        raise ZooError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    rng = np.random.default_rng(seed)
    _, h, w = TASK_SHAPES[task]
    size = {"reid": 112, "face": 96, "ssl": 28}[task]
    cams = np.zeros(len(digits), np.int64) if camera is None else np.asarray(camera)
    out = np.empty((len(digits), 3, h, w), np.float32)
    for i, d in enumerate(digits):
        glyph = _upsample(d, size)
        dy_max, dx_max = h - size, w - size
        if augment:
            dy = int(rng.integers(0, dy_max + 1)) if task == "reid" else int(np.clip(dy_max // 2 + rng.integers(-4, 5), 0, dy_max))
            dx = int(np.clip(dx_max // 2 + rng.integers(-4, 5), 0, dx_max))
            fg = rng.uniform(0.5, 1.0, 3).astype(np.float32) if task == "reid" else np.full(3, rng.uniform(0.7, 1.0), np.float32)
            bg = np.float32(rng.uniform(0.05, 0.35))
        else:
            dy, dx, fg, bg = dy_max // 2, dx_max // 2, np.ones(3, np.float32), np.float32(0.1)
        canvas = np.full((h, w), 0.0, np.float32)
        canvas[dy : dy + size, dx : dx + size] = glyph
        img = bg + canvas[None] * (fg[:, None, None] - bg)
        if augment:
            tint = np.array([1.1, 0.95, 0.8] if cams[i] % 2 else [0.85, 1.0, 1.15], np.float32)
            if task != "reid":
                tint = 1 + (tint - 1) / 3
            img = img * tint[:, None, None] * rng.uniform(0.8, 1.2) + rng.normal(0, 0.03, img.shape).astype(np.float32)
        out[i] = np.clip(img, 0, 1)
    return out


def task_inputs(task: str, images: np.ndarray) -> np.ndarray:
    """Normalise rendered [0, 1] images with the task's mean and std."""
    mean, std = TASK_NORM[task]
    return normalize(images, mean, std)


@functools.cache
def _task_data(task: str, seed: int) -> dict[str, Any]:
    digits, labels = digits_split("test")
    if task == "reid":
        n_query = 3
        query_idx = np.concatenate([np.flatnonzero(labels == c)[:n_query] for c in range(10)])
        gallery_idx = np.setdiff1d(np.arange(180), query_idx)
        q = task_inputs(task, digit_images(digits[query_idx], task, seed, camera=np.zeros(len(query_idx), int)))
        g = task_inputs(task, digit_images(digits[gallery_idx], task, seed + 1, camera=np.ones(len(gallery_idx), int)))
        return {
            "query": q, "query_ids": labels[query_idx], "query_cams": np.zeros(len(query_idx), np.int64),
            "gallery": g, "gallery_ids": labels[gallery_idx], "gallery_cams": np.ones(len(gallery_idx), np.int64),
        }  # fmt: skip
    if task == "face":
        n = 240
        images = task_inputs(task, digit_images(digits[:n], task, seed, camera=np.arange(n) % 2))
        rng = np.random.default_rng(seed)
        ids = labels[:n]
        i, j = np.triu_indices(n, 1)
        same = ids[i] == ids[j]
        pos = rng.choice(np.flatnonzero(same), 600, replace=False)
        neg = rng.choice(np.flatnonzero(~same), 600, replace=False)
        sel = np.concatenate([pos, neg])
        return {"images": images, "ids": ids, "pairs": np.stack([i[sel], j[sel]], 1), "same": same[sel]}
    if task == "ssl":
        train_d, train_y = digits_split("train")
        return {
            "train": task_inputs(task, digit_images(train_d[:500], task, seed, augment=False)),
            "train_labels": train_y[:500],
            "test": task_inputs(task, digit_images(digits[:300], task, seed + 1, augment=False)),
            "test_labels": labels[:300],
        }
    raise ZooError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")


def demo_task_data(task: str, seed: int = 0) -> dict[str, Any]:
    """The evaluation set of a demo task, from held-out digits (never used in training).

    * ``reid``: ``query`` (30 images, camera 0) and ``gallery`` (150, camera 1) with ``*_ids`` and ``*_cams``.
    * ``face``: ``images`` (240), ``ids``, ``pairs`` (1200 x 2 indices, half same-identity), ``same``.
    * ``ssl``: ``train`` (500 train-pool digits, the kNN memory bank) and ``test`` (300) with labels.

    Images are NCHW float32, normalised for the task's models. Arrays are shared: do not modify them.
    """
    if task not in TASKS:
        raise ZooError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    return _task_data(task, seed)
