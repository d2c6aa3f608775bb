"""The dataset shape every stage shares."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset


@dataclass
class ImageData:
    """A classification dataset in pixel space.

    ``train``/``test`` yield (x in [0, 1] as (C, H, W) float, label int) without augmentation;
    ``train_augmented`` (optional) is what training iterates over."""

    name: str
    num_classes: int
    input_shape: tuple[int, int, int]
    train: Dataset
    test: Dataset
    train_augmented: Dataset | None = None

    def train_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return stack(self.train)

    def test_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return stack(self.test)


def stack(dataset: Dataset, batch_size: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """All of a dataset as two tensors (x float, y int64); tensor datasets are returned as is."""
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None and len(tensors) == 2:
        return tensors[0], tensors[1].long()
    xs, ys = [], []
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        xs.append(x)
        ys.append(torch.as_tensor(y))
    return torch.cat(xs).float(), torch.cat(ys).long()
