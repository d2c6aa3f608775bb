"""LightningDataModule over an :class:`ipguard.data.ImageData`: training batches only (the zoo
builder measures each member's test accuracy once, after training), an epoch of them at a time
(train.module runs an epoch's batches in one Lightning step)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ipguard.data import ImageData


class ImageDataModule(L.LightningDataModule):
    """Shuffled (augmented, where the dataset has augmentation) training batches. The shuffle
    order is fixed by ``seed``.

    The shuffle generator's state is part of a Lightning checkpoint (``state_dict``), so a
    training resumed from ``last.ckpt`` sees the same batches, in the same order, as one that
    was never interrupted (bit for bit on CPU)."""

    def __init__(
        self, data: ImageData, batch_size: int = 64, num_workers: int = 0, seed: int = 0
    ) -> None:
        super().__init__()
        self.data, self.batch_size = data, batch_size
        self.num_workers, self.seed = num_workers, seed
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def dataset(self) -> Dataset:
        return self.data.train_augmented or self.data.train

    @property
    def steps_per_epoch(self) -> int:
        """Batches an epoch (the last one may be short)."""
        return math.ceil(len(self.dataset) / self.batch_size)  # type: ignore[arg-type]

    def train_dataloader(self) -> EpochBatches:
        return EpochBatches(batches(self.dataset, self.batch_size, self.generator,
                                    self.num_workers))

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "generator" in state:
            self.generator.set_state(state["generator"])


class EpochBatches:
    """An epoch's batches as Lightning's one item an epoch: iterating yields ``loader``, which
    the training step iterates (lazily: the epoch is never held in memory)."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[DataLoader]:
        yield self.loader


def batches(dataset: Dataset, batch_size: int, generator: torch.Generator,
            num_workers: int = 0) -> DataLoader:
    """Shuffled batches of ``dataset`` in the order ``generator`` draws. Tensors held in
    memory (a ``TensorDataset``) are indexed a whole batch at once, the same batches as one
    image at a time and collated, at a fraction of the cost."""
    whole = isinstance(dataset, TensorDataset)
    return DataLoader(
        WholeBatches(dataset) if whole else dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=num_workers,
        generator=generator,
        persistent_workers=num_workers > 0,
        drop_last=False,
        collate_fn=_as_is if whole else None,
    )


class WholeBatches(Dataset):
    """A ``TensorDataset`` whose batches are fetched by one index operation per tensor
    (``__getitems__``, which the DataLoader calls with a batch's indices)."""

    def __init__(self, dataset: TensorDataset) -> None:
        self.tensors = dataset.tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        return tuple(t[i] for t in self.tensors)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        index = torch.as_tensor(indices)
        return tuple(t[index] for t in self.tensors)


def _as_is(batch: Any) -> Any:
    return batch
