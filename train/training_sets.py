"""Whose training data is whose (docs/stealing.md): the owner's and the attacker's parts of the
training set (zoo.data), the attacker's training set (its queries and the target's answers)
and the honest competitor's (the harder negatives' parts of the target's own training set:
two halves, or a set overlapping half A by a fraction)."""

from __future__ import annotations

import math

import torch
from torch.utils.data import TensorDataset

from ipguard.data import ImageData
from ipguard.data.owner import owner_size, owner_split, subset_data

__all__ = ["attacker_data", "halves", "overlap_indices", "owner_size", "owner_split",
           "subset_data"]


def attacker_data(data: ImageData, x: torch.Tensor, y: torch.Tensor) -> ImageData:
    """The zoo's dataset with the attacker's training set (no augmentation: the answers
    belong to these very inputs); the test split stays the zoo's."""
    return ImageData(data.name, data.num_classes, data.input_shape, TensorDataset(x, y),
                     data.test)


def halves(size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The training set split once into halves A and B by ``seed`` (A gets the odd one)."""
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed))
    cut = math.ceil(size / 2)
    return order[:cut], order[cut:]


def overlap_indices(a: torch.Tensor, b: torch.Tensor, fraction: float) -> torch.Tensor:
    """min(|A|, |B|) examples: the first round(f * size) of half A and the rest from half B,
    so the set shares exactly that fraction with the half-A model's data (and 1 - f with
    the half-B model's)."""
    size = min(len(a), len(b))
    take = round(fraction * size)
    return torch.cat([a[:take], b[: size - take]])
