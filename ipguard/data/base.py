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


def first_per_class(labels: torch.Tensor | list[int], limit: int | None,
                    field: str = "dataset.loader.*_per_class") -> torch.Tensor:
    """Indices of the first ``limit`` examples of each class, in their stored order: a
    stratified subset, the same every time (``None``: every example)."""
    labels = torch.as_tensor(labels)
    if limit is None:
        return torch.arange(len(labels))
    if limit < 1:
        from ipguard.utils.errors import ConfigError

        raise ConfigError(field, limit, "null (all) or an integer >= 1")
    order = torch.argsort(labels, stable=True)
    sorted_labels = labels[order]
    starts = torch.searchsorted(sorted_labels, sorted_labels, right=False)
    rank = torch.arange(len(labels)) - starts  # position within its class
    return torch.sort(order[rank < limit]).values


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
