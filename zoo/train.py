"""Demo training on scikit-learn digits, in minutes on two CPU cores (imports torch).

Each family is trained the way its original code trains it, shrunk to a few hundred digit images:

* ``reid`` (FedReID): identity classification through the ``ClassBlock`` (cross-entropy).
* ``ureid`` (FedUReID): unsupervised instance discrimination against a feature memory bank.
* ``face``: CosFace (additive cosine margin) classification of the digit identities.
* ``ssl`` (FedSSL): BYOL with an EMA target on two augmented views; no labels.

FedReID's ResNet-50 is trained whole (mostly at half resolution, see :func:`_train_reid`); the other
large networks keep their seeded, BatchNorm-recalibrated early stages frozen, their outputs are
computed once and only the later stages and heads are trained. The result is a state dict in the
original code's layout (as :func:`zoo.checkpoint.load_checkpoint` reads it).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from zoo.batchnorm import calibration_inputs, recalibrate_bn
from zoo.data import digit_images, digits_split, normalize
from zoo.registry import ModelSpec

__all__ = ["DEMO_SETTINGS", "train_demo"]

logger = logging.getLogger(__name__)

# images, epochs, batch and learning rate per model: about a minute per model, seven for fedreid-resnet50
DEMO_SETTINGS: dict[str, dict[str, float]] = {
    "fedreid-resnet50": {"images": 1100, "epochs": 3, "full_res_epochs": 2, "low_res": 2, "batch": 32, "lr": 1e-2},
    "fedureid-resnet50": {"images": 256, "epochs": 5, "batch": 32, "lr": 1e-3},
    "fedssl-byol-resnet18": {"images": 512, "epochs": 4, "batch": 64, "lr": 1e-3, "views": 4},
    "fedssl-byol-resnet50": {"images": 384, "epochs": 4, "batch": 64, "lr": 1e-3, "views": 3},
    "face-mobilefacenet": {"images": 480, "epochs": 5, "batch": 32, "lr": 2e-3},
    "face-iresnet50": {"images": 192, "epochs": 6, "batch": 32, "lr": 1e-3},
}


_RECALIBRATION = 128  # training images that re-estimate BatchNorm statistics before training


def train_demo(spec: ModelSpec, seed: int = 0) -> dict[str, torch.Tensor]:
    """Train the demo model of ``spec`` from its seeded initialisation; returns its state dict."""
    trainer: Callable[[ModelSpec, int, dict[str, float]], nn.Module] = {
        "reid": _train_reid, "ureid": _train_ureid, "face": _train_face, "ssl": _train_ssl,
    }[spec.family]  # fmt: skip
    start, cpu = time.perf_counter(), time.process_time()
    torch.manual_seed(seed)
    module = trainer(spec, seed, DEMO_SETTINGS[spec.name])
    logger.info(
        "trained demo %s in %.1f s (%.1f CPU s)", spec.name, time.perf_counter() - start, time.process_time() - cpu
    )
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _digit_set(task: str, n: int, seed: int, mean: tuple[float, ...], std: tuple[float, ...], **kw: object):
    digits, labels = digits_split("train")
    idx = np.random.default_rng(seed).permutation(len(labels))[:n]
    images = digit_images(digits[idx], task, seed, **kw)  # type: ignore[arg-type]
    return torch.from_numpy(normalize(images, mean, std)), torch.from_numpy(labels[idx])


def _batches(n: int, batch: int, epochs: int, seed: int) -> Iterable[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for s in range(0, n - batch + 1, batch):
            yield perm[s : s + batch]


def _progress(total: int, name: str) -> tqdm:
    return tqdm(total=total, desc=f"training demo {name}", file=sys.stderr, unit="step", leave=False, disable=None)


@torch.no_grad()
def _precompute(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int = 50) -> torch.Tensor:
    return torch.cat([fn(x[s : s + batch]) for s in range(0, len(x), batch)])


def _steps(n: int, cfg: dict[str, float]) -> int:
    return int(cfg["epochs"]) * (n // int(cfg["batch"]))


def _train_reid(spec: ModelSpec, seed: int, cfg: dict[str, float]) -> nn.Module:
    """The whole network (FedReID's SGD + weight decay), mostly at reduced resolution, then at full.

    The first ``epochs`` see images average-pooled by ``low_res`` (about ``low_res**2`` times
    cheaper); the last ``full_res_epochs`` see full-size images, so the network adapts to the
    object scale it meets at test time (FixRes). BatchNorm statistics are re-estimated at full size.
    """
    from zoo.nets.resnet import FedReIDNet

    net = FedReIDNet(class_num=10)
    recalibrate_bn(net, calibration_inputs(spec, seed))
    n = int(cfg["images"])
    x, y = _digit_set("reid", n, seed, spec.mean, spec.std, camera=np.arange(n) % 2)
    small = F.avg_pool2d(x, int(cfg["low_res"]))
    recalibrate_bn(net, small[:_RECALIBRATION].numpy())
    low, full = int(cfg["epochs"]), int(cfg["full_res_epochs"])
    steps = (low + full) * (n // int(cfg["batch"]))
    opt = torch.optim.SGD(net.parameters(), lr=cfg["lr"], momentum=0.9, nesterov=True, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=steps, pct_start=0.2)
    net.train()
    with _progress(steps, spec.name) as bar:
        for epoch in range(low + full):
            images = small if epoch < low else x
            for idx in _batches(n, int(cfg["batch"]), 1, seed + epoch):
                loss = F.cross_entropy(net.logits(images[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                schedule.step()
                bar.set_postfix(loss=f"{loss.item():.3f}")
                bar.update()
    recalibrate_bn(net, x[: 2 * _RECALIBRATION].numpy())
    return net.eval()


def _train_ureid(spec: ModelSpec, seed: int, cfg: dict[str, float]) -> nn.Module:
    from zoo.nets.resnet import FedUReIDNet

    net = FedUReIDNet()
    recalibrate_bn(net, calibration_inputs(spec, seed))
    n = int(cfg["images"])
    views = [_digit_set("reid", n, seed, spec.mean, spec.std, camera=np.full(n, c))[0] for c in (0, 1)]
    recalibrate_bn(net, torch.cat([v[: _RECALIBRATION // 2] for v in views]).numpy())
    trunk = net.model

    def prefix(b: torch.Tensor) -> torch.Tensor:
        return trunk.layer3(trunk.layer2(trunk.layer1(trunk.stem(b))))

    hs = torch.stack([_precompute(prefix, v) for v in views])  # 2 x N x C x H x W

    def embed(h: torch.Tensor) -> torch.Tensor:
        return F.normalize(torch.flatten(trunk.avgpool(trunk.layer4(h)), 1), dim=1)

    with torch.no_grad():
        trunk.layer4.eval()
        memory = _precompute(embed, hs[0])
    opt = torch.optim.Adam(trunk.layer4.parameters(), lr=cfg["lr"], weight_decay=5e-4)
    trunk.layer4.train()
    g = torch.Generator().manual_seed(seed)
    with _progress(_steps(n, cfg), spec.name) as bar:
        for idx in _batches(n, int(cfg["batch"]), int(cfg["epochs"]), seed):
            view = torch.randint(0, 2, (len(idx),), generator=g)
            f = embed(hs[view, idx])
            loss = F.cross_entropy(f @ memory.T / 0.05, idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                memory[idx] = F.normalize(0.5 * memory[idx] + 0.5 * f.detach(), dim=1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            bar.update()
    return net.eval()


class _CosFace(nn.Module):
    """Additive cosine margin softmax head (CosFace): s * (cos(theta) - m) for the true class."""

    def __init__(self, dim: int, classes: int, s: float = 30.0, m: float = 0.35) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim) * 0.01)
        self.s, self.m = s, m

    def forward(self, emb: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cos = F.normalize(emb, dim=1) @ F.normalize(self.weight, dim=1).T
        return F.cross_entropy(self.s * (cos - self.m * F.one_hot(y, cos.shape[1])), y)


def _train_face(spec: ModelSpec, seed: int, cfg: dict[str, float]) -> nn.Module:
    net = spec.build()
    recalibrate_bn(net, calibration_inputs(spec, seed))
    n = int(cfg["images"])
    x, y = _digit_set("face", n, seed, spec.mean, spec.std, camera=np.arange(n) % 2)
    recalibrate_bn(net, x[:_RECALIBRATION].numpy())
    head = _CosFace(spec.output_dim, 10)
    if spec.name == "face-iresnet50":  # frozen stem and first three stages
        x = _precompute(lambda b: net.layer3(net.layer2(net.layer1(net.prelu(net.bn1(net.conv1(b)))))), x)
        trained: list[nn.Module] = [net.layer4, net.bn2, net.fc, net.features]

        def forward(b: torch.Tensor) -> torch.Tensor:
            return net.head(net.layer4(b))
    else:  # MobileFaceNet: frozen up to the 14x14 stage
        x = _precompute(lambda b: nn.Sequential(*net.layers[:6])(b), x)
        trained = [*net.layers[6:], net.conv_sep, net.features]

        def forward(b: torch.Tensor) -> torch.Tensor:
            for layer in net.layers[6:]:
                b = layer(b)
            return net.features(net.conv_sep(b))

    params = [p for m in trained for p in m.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.Adam(params, lr=cfg["lr"], weight_decay=5e-4)
    for m in trained:
        m.train()
    with _progress(_steps(n, cfg), spec.name) as bar:
        for idx in _batches(n, int(cfg["batch"]), int(cfg["epochs"]), seed):
            loss = head(forward(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
            bar.update()
    return net.eval()


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random scale/shift/rotation (one affine warp per image) and brightness/contrast jitter."""
    n = len(x)
    scale = 1 / (0.7 + 0.3 * torch.rand(n, generator=g))
    angle = (torch.rand(n, generator=g) - 0.5) * (math.pi / 6)
    shift = (torch.rand(n, 2, generator=g) - 0.5) * 0.3
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    low = x.amin(dim=(1, 2, 3), keepdim=True)
    out = F.grid_sample(x - low, grid, align_corners=False, padding_mode="zeros") + low
    contrast = 0.6 + 0.8 * torch.rand(n, 1, 1, 1, generator=g)
    bright = (torch.rand(n, 3, 1, 1, generator=g) - 0.5) * 0.8
    return out * contrast + bright


def _train_ssl(spec: ModelSpec, seed: int, cfg: dict[str, float]) -> nn.Module:
    from zoo.nets.cifar_resnet import BYOLModel, _byol_loss, cifar_resnet

    depth = 50 if spec.name.endswith("resnet50") else 18
    encoder = cifar_resnet(depth)
    byol = BYOLModel(encoder)
    calib = calibration_inputs(spec, seed)
    recalibrate_bn(nn.Sequential(byol.online_encoder, byol.online_predictor), calib)
    byol.target_encoder.load_state_dict(byol.online_encoder.state_dict())
    n, views = int(cfg["images"]), int(cfg.get("views", 4))
    x, _ = _digit_set("ssl", n, seed, spec.mean, spec.std, augment=False)
    g = torch.Generator().manual_seed(seed)

    def prefix(b: torch.Tensor) -> torch.Tensor:  # frozen: stem and layer1-3
        return encoder.layer3(encoder.layer2(encoder.layer1(F.relu(encoder.bn1(encoder.conv1(b))))))

    recalibrate_bn(nn.Sequential(byol.online_encoder, byol.online_predictor), _augment(x[:_RECALIBRATION], g).numpy())
    byol.target_encoder.load_state_dict(byol.online_encoder.state_dict())
    encoder.eval()
    hs = torch.stack([_precompute(prefix, _augment(x, g)) for _ in range(views)])  # views x N x C x H x W

    def project(net: nn.Module, h: torch.Tensor) -> torch.Tensor:
        return net.fc(torch.flatten(F.adaptive_avg_pool2d(net.layer4(h), 1), 1))

    trained = [encoder.layer4, encoder.fc, byol.online_predictor]
    params = [p for m in trained for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=cfg["lr"], weight_decay=1e-6)
    for m in trained:
        m.train()
    byol.target_encoder.train()
    with _progress(_steps(n, cfg), spec.name) as bar:
        for idx in _batches(n, int(cfg["batch"]), int(cfg["epochs"]), seed):
            pick = torch.stack([torch.randperm(views, generator=g)[:2] for _ in idx])
            h1, h2 = hs[pick[:, 0], idx], hs[pick[:, 1], idx]
            p1, p2 = byol.online_predictor(project(encoder, h1)), byol.online_predictor(project(encoder, h2))
            with torch.no_grad():
                z1, z2 = project(byol.target_encoder, h1), project(byol.target_encoder, h2)
            loss = (_byol_loss(p1, z2) + _byol_loss(p2, z1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            byol.update_moving_average()
            bar.set_postfix(loss=f"{loss.item():.3f}")
            bar.update()
    byol.eval()
    keep = nn.Module()
    keep.online_encoder = byol.online_encoder
    keep.online_predictor = byol.online_predictor
    return keep
