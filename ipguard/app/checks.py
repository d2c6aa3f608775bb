"""Checks that no config schema can make, run before any data, model, zoo or W&B run: the
device exists here, folders can be written, the job fits in memory. Each raises a one-line
ConfigError or IPGuardError."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ipguard.app.runtime import check_memory, extraction_bytes, format_bytes, images_bytes
from ipguard.app.schema import DatasetConfig
from ipguard.utils.errors import ConfigError


def check_device(device: Any, field: str = "device") -> str:
    """cpu, cuda, cuda:N or mps, and only a device this machine has."""
    import torch

    text = str(device)
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and not index.isdigit()) or \
            (kind == "cpu" and index):
        raise ConfigError(field, device, "choose cpu, cuda, cuda:<index> or mps")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(field, device, "no CUDA device is visible here: use device=cpu "
                              "(and trainer=cpu for train.zoo)")
        if index and int(index) >= torch.cuda.device_count():
            raise ConfigError(field, device, f"this machine has {torch.cuda.device_count()} "
                              "CUDA device(s): cuda:0 ..")
    if kind == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise ConfigError(field, device, "MPS is not available here: use device=cpu")
    return text


def check_folder(field: str, value: Any, writable: bool = True) -> Path:
    """A folder the run will create or read: not an existing file, below a folder it may
    write into (the nearest existing ancestor)."""
    if value is None or str(value).strip() == "":
        raise ConfigError(field, value, "a folder path")
    path = Path(str(value)).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(field, str(path), "must be a folder, but a file has that name")
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(field, str(path), f"{parent} is a file, not a folder")
    if writable and not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(field, str(path), f"{parent} is not writable: choose a folder you "
                          "may write to (paths.root_dir=... or IPGUARD_ROOT=...)")
    return path


def training_images(dataset: DatasetConfig) -> int:
    """How many training images init=train stacks: the dataset's size, or its per-class
    subset; none for a dataset that is never downloaded (ImageNet) when no folder is given
    (extraction then says init=train needs them)."""
    loader = dataset.loader or {}
    if "root" in loader and loader["root"] is None and not dataset.downloadable:
        return 0
    size = int(dataset.train_size)
    per_class = loader.get("train_per_class")
    if per_class:
        size = min(size, int(per_class) * int(dataset.num_classes))
    return size


def check_extraction_memory(n: int, dataset: DatasetConfig, init: str,
                            available: int | None = None) -> None:
    """Fail early when extraction would not fit: init=train stacks the training set as
    float32 next to the n points being optimised (verification then streams one suspect at a
    time, so the zoo's size does not count)."""
    shape = list(dataset.input_shape)
    train = training_images(dataset) if init == "train" else 0
    need = extraction_bytes(int(n), shape) + images_bytes(train, shape)
    fix = ("use fewer points (n=...)" if not train else
           f"init=train stacks {train} training images ({format_bytes(images_bytes(train, shape))}"
           "); use init=random, a subset (e.g. dataset.loader.train_per_class=10), or a "
           "machine with more memory")
    check_memory(need, f"extracting {n} points on {dataset.name}", fix, available)
