"""A torchvision-layout ResNet and the FedReID / FedUReID person re-id networks built on it.

Parameter names follow ``torchvision.models.resnet`` (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0``, ``fc``), so a FedReID ``ft_net`` state dict (trunk under ``model.``,
bottleneck under ``classifier.add_block``) loads without renaming.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Bottleneck", "ClassBlock", "FedReIDNet", "FedUReIDNet", "ResNet", "resnet50"]


class Bottleneck(nn.Module):
    """torchvision's ResNet v1.5 bottleneck (stride on the 3x3 conv)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ImageNet ResNet with torchvision's names and initialisers (7x7 stem, max-pool, ``fc``)."""

    def __init__(self, layers: tuple[int, int, int, int] = (3, 4, 6, 3), num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0], 1)
        self.layer2 = self._make_layer(128, layers[1], 2)
        self.layer3 = self._make_layer(256, layers[2], 2)
        self.layer4 = self._make_layer(512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * Bottleneck.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * Bottleneck.expansion),
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """conv1, bn1, relu, maxpool."""
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled 2048-d trunk feature (no ``fc``)."""
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def resnet50(num_classes: int = 1000) -> ResNet:
    """ResNet-50 in torchvision's layout."""
    return ResNet((3, 4, 6, 3), num_classes)


def weights_init_kaiming(m: nn.Module) -> None:
    """FedReID's bottleneck initialiser: kaiming fan-out for Linear, N(1, 0.02) for BatchNorm1d."""
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
    elif isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight, a=0, mode="fan_out")
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm1d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def weights_init_classifier(m: nn.Module) -> None:
    """FedReID's classifier initialiser: N(0, 0.001) weights, zero bias."""
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.001)
        nn.init.zeros_(m.bias)


class ClassBlock(nn.Module):
    """FedReID's bottleneck + classifier: ``add_block`` = Linear, BatchNorm1d, Dropout; ``classifier`` = Linear."""

    def __init__(self, input_dim: int, class_num: int, droprate: float = 0.5, num_bottleneck: int = 512) -> None:
        super().__init__()
        self.add_block = nn.Sequential(
            nn.Linear(input_dim, num_bottleneck), nn.BatchNorm1d(num_bottleneck), nn.Dropout(p=droprate)
        )
        self.add_block.apply(weights_init_kaiming)
        self.classifier = nn.Sequential(nn.Linear(num_bottleneck, class_num))
        self.classifier.apply(weights_init_classifier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.add_block(x))


class FedReIDNet(nn.Module):
    """FedReID / FedPav ``ft_net``: ResNet-50 trunk (``model``) and ``ClassBlock`` (``classifier``).

    ``forward`` returns the 512-d bottleneck embedding (what FedReID evaluates with the per-client
    classifier removed); :meth:`logits` adds the classifier for training.
    """

    def __init__(self, class_num: int = 751, droprate: float = 0.5, stride: int = 2) -> None:
        super().__init__()
        self.model = resnet50()
        if stride == 1:
            self.model.layer4[0].downsample[0].stride = (1, 1)  # type: ignore[index]
            self.model.layer4[0].conv2.stride = (1, 1)  # type: ignore[index]
        self.model.fc = nn.Identity()  # ft_net never calls it; its keys are ignored on import
        self.classifier = ClassBlock(2048, class_num, droprate)

    def drop_classifier(self) -> FedReIDNet:
        """Remove the per-client classifier, as FedReID does before extracting features."""
        self.classifier.classifier = nn.Sequential()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.add_block(self.model.features(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Identity logits (training only)."""
        return self.classifier.classifier(self(x))


class FedUReIDNet(nn.Module):
    """FedUReID: a torchvision ResNet-50 trunk whose pooled 2048-d feature is L2-normalised."""

    def __init__(self) -> None:
        super().__init__()
        self.model = resnet50()
        self.model.fc = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.features(x), dim=1)
