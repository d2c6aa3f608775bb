"""LightningDataModule over an :class:`ipguard.data.ImageData`."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from ipguard.data import ImageData


class ImageDataModule(L.LightningDataModule):
    """Shuffled (augmented, where the dataset has augmentation) training batches; the test
    split for validation. The shuffle order is fixed by ``seed``.

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

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.data.train_augmented or self.data.train,
            batch_size=self.batch_size,
            shuffle=True,
            num_workers=self.num_workers,
            generator=self.generator,
            persistent_workers=self.num_workers > 0,
            drop_last=False,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self.data.test,
            batch_size=max(self.batch_size, 512),
            shuffle=False,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "generator" in state:
            self.generator.set_state(state["generator"])
