"""Networks sized for small grey images (digits' 1x8x8, Fashion-MNIST's 1x28x28).

Each builder returns a :class:`PixelClassifier`, which takes pixels in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ipguard.models.layers import PixelClassifier


def small_cnn(
    num_classes: int,
    in_channels: int,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    width: int = 16,
) -> PixelClassifier:
    """The digits target: three 3x3 convolutions (widths divisible by 16 for filter pruning)
    and two fully connected layers. No batch norm, so a pruned filter is truly silent."""
    w = width
    side = image_size // 4
    net = nn.Sequential(
        nn.Conv2d(in_channels, w, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(w, 2 * w, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2 * w, 2 * w, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * w * side * side, 128),
        nn.ReLU(),
        nn.Linear(128, num_classes),
    )
    return PixelClassifier(net, mean, std)


def lenet5(
    num_classes: int,
    in_channels: int,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> PixelClassifier:
    """LeNet-5 (two conv + pool stages, 120-84 fully connected), padded so 8x8 inputs fit."""
    side = image_size // 4
    net = nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * side * side, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, num_classes),
    )
    return PixelClassifier(net, mean, std)


def vgg_small(
    num_classes: int,
    in_channels: int,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    widths: Sequence[int] = (32, 32, "M", 64, 64, "M", 128, 128, "M"),  # type: ignore[assignment]
) -> PixelClassifier:
    """VGG-style: stacks of 3x3 conv + batch norm + ReLU between max-pools, then a linear head."""
    layers: list[nn.Module] = []
    channels, side = in_channels, image_size
    for w in widths:
        if w == "M":
            layers.append(nn.MaxPool2d(2))
            side //= 2
        else:
            layers += [nn.Conv2d(channels, int(w), 3, padding=1), nn.BatchNorm2d(int(w)), nn.ReLU()]
            channels = int(w)
    net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * side * side, num_classes))
    return PixelClassifier(net, mean, std)
