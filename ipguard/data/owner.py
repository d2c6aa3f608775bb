"""Whose training data is whose: a dataset's training set split once into the owner's part
(the target, its positives and the negatives train on it, and the owner's fingerprint starts
from it) and the attacker's part, which the target never sees (docs/stealing.md)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from ipguard.data.base import ImageData


def owner_split(data: ImageData, fraction: float, seed: int
                ) -> tuple[ImageData, ImageData | None]:
    """The owner's part of ``data`` (a seeded ``fraction`` of its training set; the test
    split is shared) and the attacker's, the rest, which the owner never trains on; with
    ``fraction`` 1, all of ``data`` and no attacker's part (the paper's zoo)."""
    if fraction >= 1.0:
        return data, None
    size = len(data.train)  # type: ignore[arg-type]
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed))
    cut = min(size - 1, max(1, round(fraction * size)))
    return subset_data(data, order[:cut]), subset_data(data, order[cut:])


def owner_size(size: int, fraction: float) -> int:
    """How many of ``size`` training inputs :func:`owner_split` gives the owner."""
    return size if fraction >= 1.0 else min(size - 1, max(1, round(fraction * size)))


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
