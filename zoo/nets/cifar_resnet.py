"""FedSSL / FedEMA / FedU encoders: EasyFL's CIFAR-style ResNet and the Siamese SSL heads.

Names follow EasyFL (``conv1`` 3x3 stride 1, no max-pool, ``layerN.i.shortcut``, ``fc``). The SSL
wrappers keep EasyFL's attributes: ``online_encoder`` (whose ``fc`` is the projector MLP),
``online_predictor``, and for MoCo ``encoder_q`` / ``encoder_k``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["BYOLModel", "CifarResNet", "MLP", "MoCoModel", "SSLEncoder", "SimSiamModel", "cifar_resnet"]


class BasicBlock(nn.Module):
    """Two 3x3 convs with a 1x1 ``shortcut`` when the shape changes."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1, 3x3 (strided), 1x1 convs with a 1x1 ``shortcut`` when the shape changes."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


def _shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Sequential:
    if stride == 1 and in_planes == out_planes:
        return nn.Sequential()
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False), nn.BatchNorm2d(out_planes))


class CifarResNet(nn.Module):
    """EasyFL's ResNet: 3x3 stride-1 stem, no max-pool, 4x4 average pool at 32x32, ``fc``."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], num_blocks: tuple[int, ...], num_classes: int = 10):
        super().__init__()
        self.in_planes = 64
        self.feature_dim = 512 * block.expansion
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(block, 64, num_blocks[0], 1)
        self.layer2 = self._make_layer(block, 128, num_blocks[1], 2)
        self.layer3 = self._make_layer(block, 256, num_blocks[2], 2)
        self.layer4 = self._make_layer(block, 512, num_blocks[3], 2)
        self.fc: nn.Module = nn.Linear(self.feature_dim, num_classes)

    def _make_layer(self, block: type[BasicBlock] | type[Bottleneck], planes: int, n: int, stride: int) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled encoder feature (before ``fc``)."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def cifar_resnet(depth: int, num_classes: int = 10) -> CifarResNet:
    """EasyFL's ``ResNet18`` (depth 18) or ``ResNet50`` (depth 50)."""
    if depth == 18:
        return CifarResNet(BasicBlock, (2, 2, 2, 2), num_classes)
    if depth == 50:
        return CifarResNet(Bottleneck, (3, 4, 6, 3), num_classes)
    raise ValueError(f"no CIFAR ResNet of depth {depth}")


class MLP(nn.Module):
    """EasyFL's two-layer projector / predictor: Linear, BatchNorm1d, ReLU, Linear (under ``net``)."""

    def __init__(self, dim: int, projection_size: int, hidden_size: int = 4096) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden_size), nn.BatchNorm1d(hidden_size), nn.ReLU(inplace=True),
            nn.Linear(hidden_size, projection_size),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BYOLModel(nn.Module):
    """BYOL as EasyFL lays it out: ``online_encoder`` (projector as its ``fc``), ``online_predictor``, EMA target."""

    def __init__(self, net: CifarResNet, projection_size: int = 2048, hidden_size: int = 4096, decay: float = 0.99):
        super().__init__()
        self.online_encoder = net
        self.online_encoder.fc = MLP(net.feature_dim, projection_size, hidden_size)
        self.online_predictor = MLP(projection_size, projection_size, hidden_size)
        self.target_encoder = copy.deepcopy(self.online_encoder)
        for p in self.target_encoder.parameters():
            p.requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update_moving_average(self) -> None:
        """EMA update of the target encoder from the online encoder."""
        for t, o in zip(self.target_encoder.parameters(), self.online_encoder.parameters(), strict=True):
            t.mul_(self.decay).add_(o.detach(), alpha=1 - self.decay)
        for t, o in zip(self.target_encoder.buffers(), self.online_encoder.buffers(), strict=True):
            t.copy_(o)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        p1, p2 = self.online_predictor(self.online_encoder(x1)), self.online_predictor(self.online_encoder(x2))
        with torch.no_grad():
            z1, z2 = self.target_encoder(x1), self.target_encoder(x2)
        return (_byol_loss(p1, z2) + _byol_loss(p2, z1)).mean()


class SimSiamModel(nn.Module):
    """SimSiam as EasyFL lays it out: ``online_encoder`` (projector as ``fc``) and ``online_predictor``."""

    def __init__(self, net: CifarResNet, projection_size: int = 2048, hidden_size: int = 4096) -> None:
        super().__init__()
        self.online_encoder = net
        self.online_encoder.fc = MLP(net.feature_dim, projection_size, hidden_size)
        self.online_predictor = MLP(projection_size, projection_size, hidden_size)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.online_encoder(x1), self.online_encoder(x2)
        p1, p2 = self.online_predictor(z1), self.online_predictor(z2)
        return -(F.cosine_similarity(p1, z2.detach()).mean() + F.cosine_similarity(p2, z1.detach()).mean()) / 2


class MoCoModel(nn.Module):
    """MoCo (v1, or v2 with ``mlp=True``) as EasyFL lays it out: ``encoder_q``, ``encoder_k`` and a ``queue``."""

    def __init__(self, depth: int = 18, dim: int = 128, k: int = 4096, m: float = 0.99, t: float = 0.1, mlp: bool = False):
        super().__init__()
        self.encoder_q = cifar_resnet(depth, dim)
        self.encoder_k = cifar_resnet(depth, dim)
        if mlp:
            fd = self.encoder_q.feature_dim
            self.encoder_q.fc, self.encoder_k.fc = MLP(fd, dim, fd), MLP(fd, dim, fd)
        self.encoder_k.load_state_dict(self.encoder_q.state_dict())
        for p in self.encoder_k.parameters():
            p.requires_grad_(False)
        self.m, self.t = m, t
        self.register_buffer("queue", F.normalize(torch.randn(dim, k), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            for pk, pq in zip(self.encoder_k.parameters(), self.encoder_q.parameters(), strict=True):
                pk.mul_(self.m).add_(pq.detach(), alpha=1 - self.m)
        loss_12, k2 = self._contrastive(x1, x2)
        loss_21, k1 = self._contrastive(x2, x1)
        self._enqueue(torch.cat([k1, k2]))
        return loss_12 + loss_21

    def _contrastive(self, xq: torch.Tensor, xk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = F.normalize(self.encoder_q(xq), dim=1)
        with torch.no_grad():
            k = F.normalize(self.encoder_k(xk), dim=1)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ self.queue.clone()], dim=1) / self.t
        return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long)), k

    @torch.no_grad()
    def _enqueue(self, keys: torch.Tensor) -> None:
        n, size = len(keys), self.queue.shape[1]
        ptr = int(self.queue_ptr)
        idx = (torch.arange(n) + ptr) % size
        self.queue[:, idx] = keys.T
        self.queue_ptr[0] = (ptr + n) % size


def _byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return 2 - 2 * (F.normalize(p, dim=-1) * F.normalize(z, dim=-1)).sum(-1)


class SSLEncoder(nn.Module):
    """The deployed FedSSL network: encoder features, optionally followed by projector and predictor.

    Keeps EasyFL's names (``online_encoder``, ``online_predictor``) so checkpoints load as saved.
    """

    def __init__(self, depth: int, with_heads: bool = False, projection_size: int = 2048, hidden_size: int = 4096):
        super().__init__()
        self.online_encoder = cifar_resnet(depth)
        self.with_heads = with_heads
        if with_heads:
            self.online_encoder.fc = MLP(self.online_encoder.feature_dim, projection_size, hidden_size)
            self.online_predictor = MLP(projection_size, projection_size, hidden_size)
        else:
            self.online_encoder.fc = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_heads:
            return self.online_predictor(self.online_encoder(x))
        return self.online_encoder.features(x)
