"""Builders of the deployed torch modules (imports torch)."""

from __future__ import annotations

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.registry import ModelSpec

__all__ = ["build_fedreid", "build_fedureid", "build_iresnet50", "build_mobilefacenet", "build_ssl", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed torch's global generator (initialisers draw from it)."""
    torch.manual_seed(seed)


def _no_variant(spec: ModelSpec, variant: str | None) -> None:
    if variant not in (None, "", "encoder"):
        raise ZooError(f"{spec.name} has no variant {variant!r}; variants: {sorted(spec.variants) or 'none'}")


def build_fedreid(spec: ModelSpec, variant: str | None = None) -> nn.Module:
    """FedReID ``ft_net`` without its per-client classifier (forward = 512-d bottleneck embedding)."""
    from zoo.nets.resnet import FedReIDNet

    _no_variant(spec, variant)
    return FedReIDNet().drop_classifier()


def build_fedureid(spec: ModelSpec, variant: str | None = None) -> nn.Module:
    """FedUReID ResNet-50 (forward = L2-normalised 2048-d feature)."""
    from zoo.nets.resnet import FedUReIDNet

    _no_variant(spec, variant)
    return FedUReIDNet()


def build_ssl(spec: ModelSpec, variant: str | None = None) -> nn.Module:
    """EasyFL SSL encoder; variant ``heads`` adds projector and predictor."""
    from zoo.nets.cifar_resnet import SSLEncoder

    if variant not in (None, "", "encoder", "heads"):
        raise ZooError(f"{spec.name} has no variant {variant!r}; variants: encoder, heads")
    depth = 50 if spec.name.endswith("resnet50") else 18
    return SSLEncoder(depth, with_heads=variant == "heads")


def build_mobilefacenet(spec: ModelSpec, variant: str | None = None) -> nn.Module:
    """Insightface MobileFaceNet."""
    from zoo.nets.mobilefacenet import MobileFaceNet

    _no_variant(spec, variant)
    return MobileFaceNet(spec.output_dim)


def build_iresnet50(spec: ModelSpec, variant: str | None = None) -> nn.Module:
    """Insightface IResNet-50."""
    from zoo.nets.iresnet import iresnet50

    _no_variant(spec, variant)
    return iresnet50(num_features=spec.output_dim)
