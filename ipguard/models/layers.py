"""Layers that let a network take pixels in [0, 1]: fingerprints then live in the data domain."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std`` inside the model, so callers pass raw pixels."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if len(mean) != len(std):
            raise ValueError(f"mean and std differ in length: {len(mean)} != {len(std)}")
        shape = (1, -1, 1, 1)
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(shape))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class PixelClassifier(nn.Module):
    """A network preceded by its own normalisation (and optional resize): takes [0, 1] pixels."""

    def __init__(
        self,
        net: nn.Module,
        mean: Sequence[float],
        std: Sequence[float],
        input_size: int | None = None,
    ) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.input_size = input_size
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_size is not None and x.shape[-1] != self.input_size:
            x = nn.functional.interpolate(
                x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False
            )
        return self.net(self.normalize(x))


def last_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    """The classification layer (the last ``nn.Linear``): what FTLL/RTLL fine-tune or reset."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to use as the last one")
    return found[-1]


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(all parameters, non-zero parameters): pruning keeps shapes but zeroes weights."""
    total = sum(p.numel() for p in model.parameters())
    nonzero = sum(int(torch.count_nonzero(p)) for p in model.parameters())
    return total, nonzero
