"""MobileFaceNet as laid out by insightface's ``arcface_torch`` (``layers``, ``conv_sep``, ``features``).

Depthwise-separable inverted residuals with PReLU; a global depthwise 7x7 conv (GDC), Linear and
BatchNorm1d give the 512-d embedding of a 112x112 face.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MobileFaceNet"]


class ConvBlock(nn.Module):
    """Conv, BatchNorm, PReLU (under ``layers``)."""

    def __init__(self, in_c: int, out_c: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_c, out_c, kernel, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_c),
            nn.PReLU(out_c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class LinearBlock(nn.Module):
    """Conv and BatchNorm without activation (under ``layers``)."""

    def __init__(self, in_c: int, out_c: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_c, out_c, kernel, stride, padding, groups=groups, bias=False), nn.BatchNorm2d(out_c)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DepthWise(nn.Module):
    """1x1 expand to ``groups`` channels, depthwise 3x3, 1x1 linear projection; optional residual."""

    def __init__(self, in_c: int, out_c: int, residual: bool = False, stride: int = 2, groups: int = 1) -> None:
        super().__init__()
        self.residual = residual
        self.layers = nn.Sequential(
            ConvBlock(in_c, groups),
            ConvBlock(groups, groups, 3, stride, 1, groups=groups),
            LinearBlock(groups, out_c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x)
        return x + out if self.residual else out


class Residual(nn.Module):
    """``num_block`` residual :class:`DepthWise` blocks."""

    def __init__(self, c: int, num_block: int, groups: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(*[DepthWise(c, c, True, 1, groups) for _ in range(num_block)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class GDC(nn.Module):
    """Global depthwise conv 7x7, flatten, Linear (no bias), BatchNorm1d."""

    def __init__(self, embedding_size: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            LinearBlock(512, 512, 7, 1, 0, groups=512),
            nn.Flatten(),
            nn.Linear(512, embedding_size, bias=False),
            nn.BatchNorm1d(embedding_size),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MobileFaceNet(nn.Module):
    """insightface's ``get_mbf`` (blocks 1, 4, 6, 2; scale 2): 3x112x112 -> 512."""

    def __init__(self, num_features: int = 512, blocks: tuple[int, int, int, int] = (1, 4, 6, 2), scale: int = 2):
        super().__init__()
        c1, c2 = 64 * scale, 128 * scale
        self.layers = nn.ModuleList([ConvBlock(3, c1, 3, 2, 1)])
        if blocks[0] == 1:
            self.layers.append(ConvBlock(c1, c1, 3, 1, 1, groups=64))
        else:
            self.layers.append(Residual(c1, blocks[0], 128))
        self.layers.extend([
            DepthWise(c1, c1, stride=2, groups=128),
            Residual(c1, blocks[1], 128),
            DepthWise(c1, c2, stride=2, groups=256),
            Residual(c2, blocks[2], 256),
            DepthWise(c2, c2, stride=2, groups=512),
            Residual(c2, blocks[3], 256),
        ])
        self.conv_sep = ConvBlock(c2, 512)
        self.features = GDC(num_features)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.features(self.conv_sep(x))
