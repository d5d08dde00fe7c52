"""Realistic sample images without downloads: scikit-image's photographs and text rendered with Pillow.

All functions are deterministic given their ``numpy.random.Generator``; images are HxWx3 ``uint8`` RGB.
"""

from __future__ import annotations

import functools
import logging

import numpy as np

__all__ = ["WORDS", "photo", "random_text", "render_line", "text_page"]

logger = logging.getLogger(__name__)

_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "text", "page", "brick", "grass", "horse")
WORDS = (
    "model", "photoshop", "invoice", "total", "amount", "date", "order", "number", "street", "station", "coffee",
    "rocket", "astronaut", "welcome", "open", "closed", "exit", "price", "receipt", "customer", "delivery", "express",
    "north", "south", "ticket", "platform", "quality", "fresh", "bakery", "market", "garden", "library", "hospital",
    "ONNX", "Runtime", "Paddle", "OCR", "Genie", "SALE", "EUR", "USD", "No.", "Tel:", "www.example.com", "A-12",
)  # fmt: skip


@functools.cache
def _photos(shrink: int = 1) -> tuple[np.ndarray, ...]:
    """The sample photos, every ``shrink``-th pixel kept when ``shrink > 1`` (for small outputs)."""
    import skimage.data

    out = []
    for name in _PHOTOS:
        try:
            img = np.asarray(getattr(skimage.data, name)())
        except Exception as exc:  # a sample that would need a download is skipped
            logger.debug("skipping scikit-image sample %s: %s", name, exc)
            continue
        if img.dtype != np.uint8:
            img = (np.clip(img, 0, 1) * 255).astype(np.uint8)
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        if shrink > 1:
            img = _resize(img, (img.shape[0] // shrink, img.shape[1] // shrink))
        out.append(np.ascontiguousarray(img[:, :, :3]))
    return tuple(out)


def _resize(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((hw[1], hw[0]), Image.Resampling.BILINEAR))


def photo(rng: np.random.Generator, hw: tuple[int, int]) -> np.ndarray:
    """A random crop (at least half of each side) of a scikit-image sample photo, resized to ``hw``."""
    photos = _photos(4 if max(hw) <= 96 else 1)
    img = photos[int(rng.integers(len(photos)))]
    h, w = img.shape[:2]
    ch, cw = int(rng.integers(h // 2, h + 1)), int(rng.integers(w // 2, w + 1))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = img[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return _resize(np.ascontiguousarray(crop), hw)


def random_text(rng: np.random.Generator, words: int) -> str:
    """``words`` words drawn from :data:`WORDS`, with an occasional number."""
    parts = []
    for _ in range(words):
        if rng.random() < 0.2:
            parts.append(str(int(rng.integers(0, 10_000))))
        else:
            parts.append(str(WORDS[int(rng.integers(len(WORDS)))]))
    return " ".join(parts)


def _font(size: int):  # -> PIL.ImageFont.FreeTypeFont (Pillow's bundled font; no system fonts needed)
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def render_line(text: str, height: int, rng: np.random.Generator) -> np.ndarray:
    """``text`` in dark ink on light paper, ``height`` pixels high and as wide as the text needs."""
    from PIL import Image, ImageDraw, ImageFilter

    font = _font(int(height * rng.uniform(0.55, 0.75)))
    left, top, right, bottom = font.getbbox(text)
    pad = int(height * 0.15)
    width = right - left + 2 * pad
    paper = tuple(int(v) for v in rng.integers(150, 256, 3))
    ink = tuple(int(v) for v in rng.integers(0, 110, 3))
    img = Image.new("RGB", (width, height), paper)
    ImageDraw.Draw(img).text((pad - left, (height - (bottom - top)) // 2 - top), text, fill=ink, font=font)
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.0, 1.5))))  # focus blur
    arr = np.asarray(img).astype(np.float32)
    arr += rng.normal(0, 6, arr.shape)  # sensor noise
    return np.clip(arr, 0, 255).astype(np.uint8)


def text_page(rng: np.random.Generator, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A page of text lines on a photo or on paper, and the mask of the pixels covered by text boxes."""
    from PIL import Image, ImageDraw

    h, w = hw
    if rng.random() < 0.5:
        base = 255 - (255 - photo(rng, hw).astype(np.float32)) * rng.uniform(0.2, 0.5)  # a faded print
    else:
        base = np.full((h, w, 3), rng.integers(215, 256, 3), np.float32)
    img = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    mask = np.zeros(hw, bool)
    y = int(rng.integers(4, 24))
    while True:
        size = int(rng.integers(14, 30))
        font = _font(size)
        text = random_text(rng, int(rng.integers(1, 4)))
        left, top, right, bottom = font.getbbox(text)
        if y + bottom - top + 4 > h:
            break
        x = int(rng.integers(4, max(5, w // 3)))
        ink = tuple(int(v) for v in rng.integers(0, 80, 3))
        draw.text((x - left, y - top), text, fill=ink, font=font)
        mask[y : y + bottom - top, x : min(w, x + right - left)] = True
        y += bottom - top + int(rng.integers(6, 24))
    arr = np.asarray(img).astype(np.float32) + rng.normal(0, 4, (h, w, 3))
    return np.clip(arr, 0, 255).astype(np.uint8), mask
