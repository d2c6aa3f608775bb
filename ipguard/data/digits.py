"""scikit-learn's bundled digits: the embedded default that runs anywhere, offline, in minutes."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import TensorDataset

from ipguard.data.base import ImageData
from ipguard.utils.errors import ConfigError


def load_digits_data(test_size: float = 0.2, split_seed: int = 0) -> ImageData:
    """1x8x8 images with pixels scaled from 0..16 to [0, 1]; a stratified split fixed by a seed."""
    if not 0.0 < test_size < 1.0:
        raise ConfigError("dataset.loader.test_size", test_size, "a fraction in (0, 1)")
    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.long)
    idx = torch.arange(len(y)).numpy()
    train_idx, test_idx = train_test_split(
        idx, test_size=test_size, random_state=split_seed, stratify=y.numpy()
    )
    return ImageData(
        name="digits",
        num_classes=10,
        input_shape=(1, 8, 8),
        train=TensorDataset(x[train_idx], y[train_idx]),
        test=TensorDataset(x[test_idx], y[test_idx]),
    )
