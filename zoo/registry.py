"""The zoo's model table: names, families, shapes and builders, without importing torch.

Example::

    >>> from zoo.registry import get_spec
    >>> spec = get_spec("face-mobilefacenet")
    >>> spec.input_shape, spec.output_dim, spec.task
    ((3, 112, 112), 512, 'face')
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import UnknownModelError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ModelSpec", "get_spec", "list_models"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
FACE_MEAN = (0.5, 0.5, 0.5)
FACE_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class ModelSpec:
    """One zoo model.

    Attributes:
        name: CLI name (``fedreid-resnet50``).
        family: ``reid``, ``ureid``, ``ssl`` or ``face``.
        description: One line on what the network is.
        input_shape: ``(C, H, W)`` of one image; the batch axis is dynamic in exports.
        output_dim: Length of the deployed embedding.
        params: Parameters of the deployed network (heads that are not exported excluded).
        task: Demo task that evaluates it: ``reid``, ``face`` or ``ssl``.
        mean: Per-channel mean subtracted from [0, 1] RGB inputs.
        std: Per-channel std the centred inputs are divided by.
        builder: ``module:function`` returning the deployed torch module (imports torch).
        variants: Extra deployable variants (name -> description), e.g. ``heads`` for SSL.
        checkpoint: How a checkpoint from the original code is laid out.
    """

    name: str
    family: str
    description: str
    input_shape: tuple[int, int, int]
    output_dim: int
    params: int
    task: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    builder: str
    variants: dict[str, str] = field(default_factory=dict)
    checkpoint: str = ""

    def build(self, variant: str | None = None) -> Any:
        """Build the deployed torch module with its seeded original initialisation (imports torch)."""
        module, _, func = self.builder.partition(":")
        return getattr(importlib.import_module(module), func)(self, variant)

    def summary(self) -> dict[str, Any]:
        """The row ``modelps zoo list`` prints."""
        return {
            "name": self.name,
            "family": self.family,
            "input_shape": list(self.input_shape),
            "output_dim": self.output_dim,
            "params": self.params,
            "task": self.task,
            "variants": sorted(self.variants),
            "description": self.description,
        }


_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="fedreid-resnet50",
        family="reid",
        description="FedReID/FedPav ft_net: torchvision ResNet-50 + ClassBlock bottleneck (Linear 2048->512, BN)",
        input_shape=(3, 256, 128),
        output_dim=512,
        params=24_558_144,
        task="reid",
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        builder="zoo.builders:build_fedreid",
        checkpoint="ft_net: model.<torchvision resnet50>, classifier.add_block.{0,1}, classifier.classifier.0 (dropped)",
    ),
    ModelSpec(
        name="fedureid-resnet50",
        family="ureid",
        description="FedUReID unsupervised ReID: torchvision ResNet-50 trunk, pooled 2048-d feature, L2-normalised",
        input_shape=(3, 256, 128),
        output_dim=2048,
        params=23_508_032,
        task="reid",
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        builder="zoo.builders:build_fedureid",
        checkpoint="torchvision resnet50 keys, bare or under model.; fc.* and classifier.* dropped",
    ),
    ModelSpec(
        name="fedssl-byol-resnet18",
        family="ssl",
        description="FedSSL/FedEMA/FedU BYOL encoder: EasyFL CIFAR ResNet-18 (3x3 stem, no max-pool), fc=Identity",
        input_shape=(3, 32, 32),
        output_dim=512,
        params=11_168_832,
        task="ssl",
        mean=CIFAR_MEAN,
        std=CIFAR_STD,
        builder="zoo.builders:build_ssl",
        variants={"heads": "online network: encoder, projector MLP and predictor MLP (2048-d output)"},
        checkpoint="EasyFL BYOLModel: online_encoder.* (fc.* = projector), online_predictor.*, target_encoder.* ignored",
    ),
    ModelSpec(
        name="fedssl-byol-resnet50",
        family="ssl",
        description="FedSSL/FedEMA/FedU BYOL encoder: EasyFL CIFAR ResNet-50 (3x3 stem, no max-pool), fc=Identity",
        input_shape=(3, 32, 32),
        output_dim=2048,
        params=23_500_352,
        task="ssl",
        mean=CIFAR_MEAN,
        std=CIFAR_STD,
        builder="zoo.builders:build_ssl",
        variants={"heads": "online network: encoder, projector MLP and predictor MLP (2048-d output)"},
        checkpoint="EasyFL BYOLModel: online_encoder.* (fc.* = projector), online_predictor.*, target_encoder.* ignored",
    ),
    ModelSpec(
        name="face-mobilefacenet",
        family="face",
        description="MobileFaceNet (insightface arcface_torch mbf): depthwise convs, PReLU, GDC head",
        input_shape=(3, 112, 112),
        output_dim=512,
        params=2_059_520,
        task="face",
        mean=FACE_MEAN,
        std=FACE_STD,
        builder="zoo.builders:build_mobilefacenet",
        checkpoint="arcface_torch MobileFaceNet: layers.*, conv_sep.*, features.layers.*",
    ),
    ModelSpec(
        name="face-iresnet50",
        family="face",
        description="insightface IResNet-50: IBasicBlock x (3,4,14,3), BN-flatten-Linear-BN head",
        input_shape=(3, 112, 112),
        output_dim=512,
        params=43_590_848,
        task="face",
        mean=FACE_MEAN,
        std=FACE_STD,
        builder="zoo.builders:build_iresnet50",
        checkpoint="arcface_torch IResNet: conv1, bn1, prelu, layerN.i.*, bn2, fc, features",
    ),
)

_BY_NAME = {s.name: s for s in _SPECS}


def list_models() -> list[ModelSpec]:
    """Every zoo model, in table order."""
    return list(_SPECS)


def get_spec(name: str) -> ModelSpec:
    """The spec called ``name``.

    Raises:
        UnknownModelError: No zoo model has that name (the message lists the names).
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownModelError(f"no zoo model {name!r}; available: {', '.join(_BY_NAME)}") from None
