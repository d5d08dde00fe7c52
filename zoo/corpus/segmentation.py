"""A small trained segmentation network whose output is a 4-D map, not an embedding.

* Task: label each pixel of a 32x32 image as background, disk, rectangle or triangle. Images
  are textured backgrounds (faded, blurred crops of scikit-image photos) with one to three filled
  shapes drawn by code, in random colours, overlapping. :func:`shapes_dataset` makes any number of
  labelled images from a seed; the held-out set uses seeds the training never sees.
* Network: a four-level U-Net (Conv-BatchNorm-ReLU, strided-conv downsampling, nearest upsampling
  with skip connections), 0.2 M parameters, ``logits`` of shape ``(N, 4, H, W)`` for any ``H``
  and ``W`` that are multiples of 8.
* Training: AdamW with a one-cycle schedule, 6 epochs over 3,000 images, on one CPU thread
  (about 1.5 minutes; several threads are slower on convolutions this small); weights cached under
  ``$MODELPS_HOME/zoo/weights`` like the zoo's demo weights, reproducible from the seed.
* Metric: :func:`mean_iou` over the four classes.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from zoo.corpus.images import photo
from zoo.corpus.store import MODEL_FILE

__all__ = ["CLASSES", "SEG_VERSION", "build_seg", "mean_iou", "seg_inputs", "seg_labelled", "shapes_dataset"]

logger = logging.getLogger(__name__)

CLASSES = ("background", "disk", "rectangle", "triangle")
SEG_VERSION = 1  # bump when the data, the network or the training changes: cached weights are retrained
_HW = (32, 32)
_TRAIN_IMAGES = 3000
_TRAIN_SEED = 1000
_HELD_OUT_SEED = 10_000  # seeds of held-out sets are offset past every training seed
_MEAN, _STD = 0.5, 0.25
_WIDTHS = (12, 24, 48, 64)


def _draw_shape(rng: np.random.Generator, hw: tuple[int, int]) -> tuple[int, np.ndarray]:
    from skimage.draw import disk, polygon

    h, w = hw
    kind = int(rng.integers(1, 4))
    mask = np.zeros(hw, bool)
    size = rng.uniform(0.18, 0.35) * min(h, w)
    cy, cx = rng.uniform(size, h - size), rng.uniform(size, w - size)
    if kind == 1:
        rr, cc = disk((cy, cx), size, shape=hw)
    elif kind == 2:
        ry, rx = size * rng.uniform(0.5, 1.0), size * rng.uniform(0.5, 1.0)
        rr, cc = polygon([cy - ry, cy - ry, cy + ry, cy + ry], [cx - rx, cx + rx, cx + rx, cx - rx], shape=hw)
    else:
        angle = rng.uniform(0, 2 * np.pi) + np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
        rr, cc = polygon(cy + size * 1.2 * np.sin(angle), cx + size * 1.2 * np.cos(angle), shape=hw)
    mask[rr, cc] = True
    return kind, mask


def _sample(rng: np.random.Generator, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, ImageFilter

    bg = Image.fromarray(photo(rng, hw)).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.0))))
    img = np.asarray(bg, np.float32) / 255.0 * rng.uniform(0.4, 0.8) + rng.uniform(0.0, 0.3)
    label = np.zeros(hw, np.int64)
    for _ in range(int(rng.integers(1, 4))):
        kind, mask = _draw_shape(rng, hw)
        colour = rng.uniform(0, 1, 3).astype(np.float32)
        img[mask] = 0.8 * colour + 0.2 * img[mask]  # a little of the texture shows through
        label[mask] = kind
    img += rng.normal(0, 0.04, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).transpose(2, 0, 1), label


def shapes_dataset(n: int, seed: int, hw: tuple[int, int] = _HW) -> tuple[np.ndarray, np.ndarray]:
    """``n`` normalised images ``(n, 3, H, W)`` float32 and their labels ``(n, H, W)`` int64."""
    rng = np.random.default_rng(seed)
    pairs = [_sample(rng, hw) for _ in range(n)]
    images = (np.stack([p[0] for p in pairs]) - _MEAN) / _STD
    return images.astype(np.float32), np.stack([p[1] for p in pairs])


def seg_labelled(n: int, seed: int = 0) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """``n`` held-out inputs (1x3x32x32 each) and their label maps ``(n, 32, 32)``."""
    images, labels = shapes_dataset(n, _HELD_OUT_SEED + seed)
    return [{"image": images[i : i + 1]} for i in range(n)], labels


def seg_inputs(path: Path, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` held-out images of shapes on photo textures, 1x3x32x32 each."""
    return seg_labelled(n, seed)[0]


def mean_iou(outputs: list[np.ndarray] | np.ndarray, labels: np.ndarray, classes: int = len(CLASSES)) -> float:
    """Mean over classes of intersection / union between ``argmax`` of the logits and the labels.

    ``outputs`` is a list of ``(batch, classes, H, W)`` arrays (or one such array); a class absent
    from both prediction and labels is left out of the mean.
    """
    logits = np.concatenate([np.asarray(o) for o in outputs]) if isinstance(outputs, list) else np.asarray(outputs)
    pred, labels = logits.argmax(axis=1), np.asarray(labels)
    ious = []
    for c in range(classes):
        union = np.logical_or(pred == c, labels == c).sum()
        if union:
            ious.append(np.logical_and(pred == c, labels == c).sum() / union)
    return float(np.mean(ious))


def _net() -> Any:
    import torch
    from torch import nn

    def block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
        )

    class UNet(nn.Module):
        """Four levels (12, 24, 48, 64 channels), skip connections, 4-class logits."""

        def __init__(self) -> None:
            super().__init__()
            c1, c2, c3, c4 = _WIDTHS
            self.enc1 = nn.Sequential(block(3, c1), block(c1, c1))
            self.enc2 = nn.Sequential(block(c1, c2, 2), block(c2, c2))
            self.enc3 = nn.Sequential(block(c2, c3, 2), block(c3, c3))
            self.enc4 = nn.Sequential(block(c3, c4, 2), block(c4, c4))
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.dec3 = nn.Sequential(block(c4 + c3, c3), block(c3, c3))
            self.dec2 = nn.Sequential(block(c3 + c2, c2), block(c2, c2))
            self.dec1 = nn.Sequential(block(c2 + c1, c1), block(c1, c1))
            self.head = nn.Conv2d(c1, len(CLASSES), 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            e1 = self.enc1(x)
            e2 = self.enc2(e1)
            e3 = self.enc3(e2)
            d3 = self.dec3(torch.cat([self.up(self.enc4(e3)), e3], 1))
            d2 = self.dec2(torch.cat([self.up(d3), e2], 1))
            return self.head(self.dec1(torch.cat([self.up(d2), e1], 1)))

    return UNet()


def _train(seed: int = 0, epochs: int = 6, batch: int = 32) -> dict[str, Any]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is faster than several competing ones
    try:
        return _train_loop(seed, epochs, batch)
    finally:
        torch.set_num_threads(threads)


def _train_loop(seed: int, epochs: int, batch: int) -> dict[str, Any]:
    import torch

    torch.manual_seed(seed)
    images, labels = shapes_dataset(_TRAIN_IMAGES, _TRAIN_SEED + seed)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels)
    net = _net()
    steps = epochs * (len(images) // batch)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    step = 0
    for epoch in range(epochs):
        perm = torch.randperm(len(images), generator=gen)
        for start in range(0, len(images) - batch + 1, batch):
            idx = perm[start : start + batch]
            x, y = x_all[idx], y_all[idx]
            if step % 2:
                x, y = x.flip(-1), y.flip(-1)
            loss = torch.nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
        logger.info("segmentation epoch %d: loss %.3f", epoch, loss.item())
    return net.eval().state_dict()


def _weights_path(seed: int = 0) -> Path:
    import torch

    from zoo.cache import cached_file

    def produce(tmp: Path) -> None:
        torch.save(_train(seed), tmp)

    return cached_file(f"weights/corpus-seg-shapes-s{seed}-v{SEG_VERSION}.pt", produce)


def build_seg(folder: Path) -> dict[str, Any]:
    """Train (or load the cached weights of) the U-Net and export it with the TorchScript exporter, opset 17.

    Batch, height and width are dynamic (``batch``, ``height``, ``width``).
    """
    import torch

    net = _net()
    net.load_state_dict(torch.load(_weights_path(), weights_only=True))
    net.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (torch.zeros(1, 3, *_HW),),
            str(folder / MODEL_FILE),
            input_names=["image"],
            output_names=["logits"],
            opset_version=17,
            dynamic_axes={
                "image": {0: "batch", 2: "height", 3: "width"},
                "logits": {0: "batch", 2: "height", 3: "width"},
            },
            dynamo=False,
        )
    feeds, labels = seg_labelled(64)
    with torch.no_grad():
        logits = [net(torch.from_numpy(f["image"])).numpy() for f in feeds]
    miou = mean_iou(logits, labels)
    logger.info("segmentation U-Net: held-out mean IoU %.3f", miou)
    return {"mean_iou": miou, "torch_params": int(sum(p.numel() for p in net.parameters()))}
