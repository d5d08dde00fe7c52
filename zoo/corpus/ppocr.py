"""PP-OCRv6 text detection and recognition, trained, as shipped inside the ``rapidocr`` wheel on PyPI.

The wheel is fetched with ``pip download --no-deps rapidocr==3.10.0`` (checked against its sha256),
and the two ONNX files are taken out of it unchanged. Inputs follow RapidOCR's own pre-processing
(its images are BGR, as OpenCV reads them):

* detection: ``(x / 255 - 0.5) / 0.5``, NCHW, sides multiples of 32 (here 1x3x320x320);
* recognition: one text line resized to height 48, keeping its aspect ratio, normalised the same
  way and right-padded with zeros to width 320 (1x3x48x320).

Task metrics for trained-model benchmarks: :func:`rec_labelled` gives rendered lines with their
text and :func:`string_accuracy` scores the CTC-decoded output; :func:`det_labelled` gives pages
with their text mask and :func:`text_iou` scores the probability map.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from zoo.corpus.images import random_text, render_line, text_page
from zoo.corpus.store import MODEL_FILE, cached_dir
from zoo.errors import ZooError

__all__ = [
    "WHEEL",
    "build_det",
    "build_rec",
    "ctc_decode",
    "det_inputs",
    "det_labelled",
    "rec_inputs",
    "rec_labelled",
    "string_accuracy",
    "text_iou",
]

logger = logging.getLogger(__name__)

WHEEL = "rapidocr==3.10.0"
_WHEEL_FILE = "rapidocr-3.10.0-py3-none-any.whl"
_WHEEL_SHA256 = "2fc34e26cd0f48514804a94f8832283039c7334076bff60768b1fed9ad068050"
_MEMBERS = {"det": "rapidocr/models/PP-OCRv6_det_small.onnx", "rec": "rapidocr/models/PP-OCRv6_rec_small.onnx"}
DET_HW = (320, 320)
REC_SHAPE = (3, 48, 320)


def _wheel(root: Path) -> Path:
    """The rapidocr wheel's two ONNX files, extracted once under ``root/_rapidocr-3.10.0``."""

    def produce(folder: Path) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", WHEEL, "-d", tmp]
            logger.info("fetching %s from PyPI", WHEEL)
            run = subprocess.run(cmd, capture_output=True, text=True, check=False)
            wheel = Path(tmp) / _WHEEL_FILE
            if run.returncode != 0 or not wheel.is_file():
                raise ZooError(f"pip download {WHEEL} failed: {(run.stderr or run.stdout).strip()[-500:]}")
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            if digest != _WHEEL_SHA256:
                raise ZooError(f"{_WHEEL_FILE}: sha256 {digest} is not the pinned {_WHEEL_SHA256}")
            with zipfile.ZipFile(wheel) as zf:
                for task, member in _MEMBERS.items():
                    with zf.open(member) as src, open(folder / f"{task}.onnx", "wb") as dst:
                        shutil.copyfileobj(src, dst)
        return {"wheel": WHEEL, "sha256": _WHEEL_SHA256, "members": _MEMBERS}

    return cached_dir(root, "_rapidocr-3.10.0", produce)


def _build(task: str, folder: Path) -> dict[str, Any]:
    shutil.copyfile(_wheel(folder.parent) / f"{task}.onnx", folder / MODEL_FILE)
    return {"source": f"{WHEEL}:{_MEMBERS[task]}"}


def build_det(folder: Path) -> dict[str, Any]:
    """Copy ``PP-OCRv6_det_small.onnx`` out of the wheel into ``folder``."""
    return _build("det", folder)


def build_rec(folder: Path) -> dict[str, Any]:
    """Copy ``PP-OCRv6_rec_small.onnx`` out of the wheel into ``folder``."""
    return _build("rec", folder)


def _normalize(rgb: np.ndarray) -> np.ndarray:
    bgr = rgb[:, :, ::-1].astype(np.float32)
    return ((bgr / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)


def det_labelled(n: int, seed: int = 0) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """``n`` detector inputs (text pages, 1x3x320x320) and their text masks (n x 320 x 320 bool)."""
    rng = np.random.default_rng(seed)
    feeds, masks = [], []
    for _ in range(n):
        page, mask = text_page(rng, DET_HW)
        feeds.append({"x": _normalize(page)[None]})
        masks.append(mask)
    return feeds, np.stack(masks)


def det_inputs(path: Path, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` text pages (on paper or faded photos) as the detector's input, 1x3x320x320 each."""
    return det_labelled(n, seed)[0]


def text_iou(outputs: list[np.ndarray], masks: np.ndarray, threshold: float = 0.3) -> float:
    """Mean IoU between the detector's probability maps (> ``threshold``) and the text masks."""
    ious = []
    for out, mask in zip(outputs, masks, strict=True):
        pred = np.asarray(out).reshape(mask.shape) > threshold
        union = np.logical_or(pred, mask).sum()
        ious.append(np.logical_and(pred, mask).sum() / union if union else 1.0)
    return float(np.mean(ious))


def _rec_image(line: np.ndarray) -> np.ndarray:
    from PIL import Image

    c, h, w = REC_SHAPE
    resized_w = min(w, int(np.ceil(h * line.shape[1] / line.shape[0])))
    img = np.asarray(Image.fromarray(line).resize((resized_w, h), Image.Resampling.BILINEAR))
    out = np.zeros(REC_SHAPE, np.float32)
    out[:, :, :resized_w] = _normalize(img)
    return out


def rec_labelled(n: int, seed: int = 0) -> tuple[list[dict[str, np.ndarray]], list[str]]:
    """``n`` recogniser inputs (one rendered text line each, 1x3x48x320) and their texts."""
    rng = np.random.default_rng(seed)
    feeds, texts = [], []
    for _ in range(n):
        text = random_text(rng, int(rng.integers(1, 4)))
        feeds.append({"x": _rec_image(render_line(text, 48, rng))[None]})
        texts.append(text)
    return feeds, texts


def rec_inputs(path: Path, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` rendered text lines as the recogniser's input, 1x3x48x320 each."""
    return rec_labelled(n, seed)[0]


def charset(path: Path) -> list[str]:
    """The recogniser's classes: ``blank``, the characters in its ``character`` metadata, then space."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    chars = next(p.value for p in model.metadata_props if p.key == "character").splitlines()
    return ["blank", *chars, " "]


def ctc_decode(logits: np.ndarray, chars: list[str]) -> list[str]:
    """Greedy CTC decoding of ``(batch, time, classes)`` scores: best class, repeats merged, blanks dropped."""
    best = np.asarray(logits).argmax(axis=-1)
    texts = []
    for row in best:
        keep = np.ones(len(row), bool)
        keep[1:] = row[1:] != row[:-1]
        texts.append("".join(chars[i] for i in row[keep] if i != 0))
    return texts


def string_accuracy(outputs: list[np.ndarray], texts: list[str], chars: list[str]) -> float:
    """Share of lines whose decoded text equals the rendered text exactly."""
    decoded = [t for out in outputs for t in ctc_decode(out, chars)]
    return float(np.mean([a == b for a, b in zip(decoded, texts, strict=True)]))
