"""insightface's IResNet (``arcface_torch/backbones/iresnet.py`` layout) for 112x112 faces.

IBasicBlock = BN, conv3x3, BN, PReLU, conv3x3 (strided), BN, plus identity / 1x1 downsample. The
head is BN2d, flatten, Dropout, Linear(512*7*7 -> 512) and BatchNorm1d (``features``, weight fixed at 1).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["IResNet", "iresnet50"]


class IBasicBlock(nn.Module):
    """The improved residual block of IResNet."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-05)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-05)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-05)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class IResNet(nn.Module):
    """IResNet for 112x112 inputs; ``layers`` gives the blocks per stage."""

    fc_scale = 7 * 7

    def __init__(self, layers: tuple[int, int, int, int], dropout: float = 0.0, num_features: int = 512) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-05)
        self.prelu = nn.PReLU(64)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1])
        self.layer3 = self._make_layer(256, layers[2])
        self.layer4 = self._make_layer(512, layers[3])
        self.bn2 = nn.BatchNorm2d(512, eps=1e-05)
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(512 * self.fc_scale, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-05)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, planes: int, blocks: int, stride: int = 2) -> nn.Sequential:
        downsample = nn.Sequential(
            nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes, eps=1e-05)
        )
        layers = [IBasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and the four stages (N x 512 x 7 x 7)."""
        x = self.prelu(self.bn1(self.conv1(x)))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """BN, flatten, dropout, Linear, BatchNorm1d."""
        return self.features(self.fc(self.dropout(torch.flatten(self.bn2(x), 1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


def iresnet50(**kwargs: float | int) -> IResNet:
    """IResNet-50: (3, 4, 14, 3) blocks."""
    return IResNet((3, 4, 14, 3), **kwargs)  # type: ignore[arg-type]
