"""The training sets of the members beyond the paper (docs/stealing.md): the attacker's (its
queries and the target's answers) and the honest competitor's (the harder negatives' parts of
the target's own training set: two halves, or a set overlapping half A by a fraction)."""

from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from ipguard.data import ImageData


def attacker_data(data: ImageData, x: torch.Tensor, y: torch.Tensor) -> ImageData:
    """The zoo's dataset with the attacker's training set (no augmentation: the answers
    belong to these very inputs); the test split stays the zoo's."""
    return ImageData(data.name, data.num_classes, data.input_shape, TensorDataset(x, y),
                     data.test)


def subset_data(data: ImageData, indices: torch.Tensor) -> ImageData:
    """The zoo's dataset restricted to ``indices`` of its training set (augmented too)."""
    def part(ds: Dataset) -> Dataset:
        tensors = getattr(ds, "tensors", None)
        if tensors is not None:
            return TensorDataset(*(t[indices] for t in tensors))
        return Subset(ds, indices.tolist())

    aug = data.train_augmented
    return ImageData(data.name, data.num_classes, data.input_shape, part(data.train),
                     data.test, part(aug) if aug is not None else None)


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
