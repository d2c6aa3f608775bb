"""The paper's CIFAR networks (Section 5.1): ResNet20 (the CIFAR-10 target), WRN-22-4 (the
CIFAR-100 target), and the different-architecture negatives LeNet-5 and VGG16.

Each builder returns a :class:`PixelClassifier` (pixels in [0, 1], its own normalisation).
Residual networks list in ``filter_prune_exclude`` the convolutions whose output channels feed
a residual sum (the stem, the last convolution of each block, projection shortcuts): filter
pruning leaves those alone, as the paper does following Li et al. (2017), and prunes the
other layer of each residual block."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ipguard.models.layers import PixelClassifier
from ipguard.utils.errors import ConfigError

VGG16_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M")


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _init(net: nn.Module) -> None:
    """He initialisation for convolutions (as He et al. and Zagoruyko & Komodakis train them)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class BasicBlock(nn.Module):
    """He et al.'s CIFAR block: conv-BN-ReLU-conv-BN plus the input, then ReLU. The shortcut is
    option A (identity; subsampled and zero-padded in channels where the shape changes), which
    is what keeps ResNet20 at 0.27 M parameters."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = _conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.extra = stride, cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x
        if self.stride != 1 or self.extra:
            half = self.extra // 2
            shortcut = F.pad(x[:, :, :: self.stride, :: self.stride],
                             (0, 0, 0, 0, half, self.extra - half))
        return F.relu(out + shortcut)


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 inputs: a 3x3 stem, three stages of n blocks (widths w, 2w, 4w,
    the last two downsampling), global average pooling and a linear layer."""

    def __init__(self, depth: int, num_classes: int, in_channels: int = 3, width: int = 16):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ConfigError("model.depth", depth, "a CIFAR ResNet has depth 6n+2 (20, 32, 56)")
        n = (depth - 2) // 6
        self.conv1 = _conv3x3(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        stages, cin = [], width
        for k, stride in enumerate((1, 2, 2)):
            cout = width * 2**k
            stages.append(nn.Sequential(*[BasicBlock(cin if b == 0 else cout, cout,
                                                     stride if b == 0 else 1) for b in range(n)]))
            cin = cout
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(cin, num_classes)
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def residual_outputs(self) -> list[str]:
        """Convolutions that write into a residual sum (FP leaves them alone)."""
        names = ["conv1"]
        for stage in ("layer1", "layer2", "layer3"):
            names += [f"{stage}.{b}.conv2" for b in range(len(getattr(self, stage)))]
        return names


class WideBlock(nn.Module):
    """Zagoruyko & Komodakis's pre-activation block: BN-ReLU-conv-BN-ReLU-(dropout)-conv, plus
    the input (through a 1x1 projection where the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = _conv3x3(cin, cout, stride)
        self.bn2 = nn.BatchNorm2d(cout)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = _conv3x3(cout, cout)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
                         if stride != 1 or cin != cout else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(x))
        shortcut = self.shortcut(o) if self.shortcut is not None else x
        out = self.conv1(o)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        return out + shortcut


class WideResNet(nn.Module):
    """WRN-d-k: a 3x3 stem of 16 filters, three groups of (d-4)/6 wide blocks (widths 16k, 32k,
    64k), BN-ReLU, global average pooling and a linear layer."""

    def __init__(
        self, depth: int, widen: int, num_classes: int, in_channels: int = 3, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6:
            raise ConfigError("model.depth", depth, "a WRN has depth 6n+4 (16, 22, 28, 40)")
        if widen < 1:
            raise ConfigError("model.widen", widen, "the widening factor is >= 1")
        n = (depth - 4) // 6
        self.conv1 = _conv3x3(in_channels, 16)
        groups, cin = [], 16
        for k, stride in enumerate((1, 2, 2)):
            cout = 16 * widen * 2**k
            groups.append(nn.Sequential(*[WideBlock(cin if b == 0 else cout, cout,
                                                    stride if b == 0 else 1, dropout)
                                          for b in range(n)]))
            cin = cout
        self.block1, self.block2, self.block3 = groups
        self.bn = nn.BatchNorm2d(cin)
        self.fc = nn.Linear(cin, num_classes)
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block3(self.block2(self.block1(self.conv1(x))))
        x = F.relu(self.bn(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def residual_outputs(self) -> list[str]:
        names = ["conv1"]
        for group in ("block1", "block2", "block3"):
            for b, block in enumerate(getattr(self, group)):
                names.append(f"{group}.{b}.conv2")
                if block.shortcut is not None:
                    names.append(f"{group}.{b}.shortcut")
        return names


def _wrap(net: nn.Module, mean: Sequence[float], std: Sequence[float]) -> PixelClassifier:
    model = PixelClassifier(net, mean, std)
    if hasattr(net, "residual_outputs"):
        model.filter_prune_exclude = tuple(f"net.{n}" for n in net.residual_outputs())
    return model


def resnet20(
    num_classes: int,
    mean: Sequence[float],
    std: Sequence[float],
    in_channels: int = 3,
    image_size: int = 32,
    depth: int = 20,
    width: int = 16,
) -> PixelClassifier:
    """The CIFAR-10 target (He et al. 2016, Section 4.2): 0.27 M parameters."""
    del image_size  # global pooling: any input size
    return _wrap(CifarResNet(depth, num_classes, in_channels, width), mean, std)


def wrn(
    num_classes: int,
    mean: Sequence[float],
    std: Sequence[float],
    in_channels: int = 3,
    image_size: int = 32,
    depth: int = 22,
    widen: int = 4,
    dropout: float = 0.0,
) -> PixelClassifier:
    """The CIFAR-100 target WRN-22-4 (Zagoruyko & Komodakis 2016): 4.3 M parameters."""
    del image_size
    return _wrap(WideResNet(depth, widen, num_classes, in_channels, dropout), mean, std)


def vgg16(
    num_classes: int,
    mean: Sequence[float],
    std: Sequence[float],
    in_channels: int = 3,
    image_size: int = 32,
    layers: Sequence[int | str] = VGG16_LAYERS,
) -> PixelClassifier:
    """VGG16's 13 convolutions (Simonyan & Zisserman) with batch norm, for 32x32 inputs: the
    five max-pools leave 1x1x512, then one linear layer (the usual CIFAR variant, 14.7 M)."""
    del image_size
    modules: list[nn.Module] = []
    channels = in_channels
    for w in layers:
        if w == "M":
            modules.append(nn.MaxPool2d(2))
        else:
            modules += [nn.Conv2d(channels, int(w), 3, padding=1, bias=False),
                        nn.BatchNorm2d(int(w)), nn.ReLU(inplace=True)]
            channels = int(w)
    net = nn.Sequential(*modules, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(channels, num_classes))
    _init(net)
    return _wrap(net, mean, std)


def lenet5(
    num_classes: int,
    mean: Sequence[float],
    std: Sequence[float],
    in_channels: int = 3,
    image_size: int = 32,
) -> PixelClassifier:
    """LeNet-5 (LeCun et al. 1998) on 32x32 inputs, unpadded as the original: 5x5 convolutions
    of 6 and 16 filters, each followed by 2x2 max-pooling, then 120-84-C fully connected."""
    side = ((image_size - 4) // 2 - 4) // 2
    if side < 1:
        raise ConfigError("model.image_size", image_size, "LeNet-5 needs inputs of at least 12")
    net = nn.Sequential(
        nn.Conv2d(in_channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * side * side, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes),
    )
    return PixelClassifier(net, mean, std)
