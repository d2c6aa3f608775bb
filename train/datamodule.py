"""LightningDataModule over an :class:`ipguard.data.ImageData`."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader

from ipguard.data import ImageData


class ImageDataModule(L.LightningDataModule):
    """Shuffled (augmented, where the dataset has augmentation) training batches; the test
    split for validation. The shuffle order is fixed by ``seed``."""

    def __init__(
        self, data: ImageData, batch_size: int = 64, num_workers: int = 0, seed: int = 0
    ) -> None:
        super().__init__()
        self.data, self.batch_size = data, batch_size
        self.num_workers, self.seed = num_workers, seed

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.data.train_augmented or self.data.train,
            batch_size=self.batch_size,
            shuffle=True,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(self.seed),
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
