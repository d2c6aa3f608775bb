"""ImageNet (ILSVRC-2012) from a folder the user gives: ``<root>/train/<wnid>/*.JPEG`` and
``<root>/val/<wnid>/*.JPEG`` (the validation images sorted into class folders, as torchvision's
ImageFolder and most preparation scripts lay them out). Sorted wnids give the labels 0..999,
the order of torchvision's pretrained models.

Images are read lazily (1.28 M files), resized and centre-cropped (Resize 256, CenterCrop 224:
the paper's 224x224x3) for testing; training images get RandomResizedCrop and a flip. The
paper tests on validation images; ``test_per_class`` keeps a fixed subset of them so that the
test set fits in memory as one tensor (10 per class: 10 000 images, 6 GB as float)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset, TensorDataset

from ipguard.data.base import ImageData, first_per_class
from ipguard.data.imagefolder import scan_split
from ipguard.utils.errors import ConfigError, IPGuardError


class FolderImages(Dataset):
    """Image files read on access through ``transform`` (PIL image -> float tensor in [0, 1])."""

    def __init__(
        self, files: list[Path], labels: list[int], transform: Callable[[Image.Image], torch.Tensor]
    ) -> None:
        self.files, self.labels, self.transform = files, labels, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        try:
            with Image.open(self.files[i]) as img:
                x = self.transform(img.convert("RGB"))
        except OSError as exc:
            raise IPGuardError(f"cannot read image {self.files[i]} ({exc}): replace or delete "
                               "it") from exc
        return x, self.labels[i]


def load_imagenet(
    root: str | Path | None = None,
    train_split: str = "train",
    test_split: str = "val",
    image_size: int = 224,
    resize: int = 256,
    test_per_class: int | None = 10,
    train_per_class: int | None = None,
    num_classes: int = 1000,
) -> ImageData:
    """The ImageNet folder at ``root``; without a root, empty splits (pretrained members can
    still be loaded and saved, but nothing can be trained or tested)."""
    if image_size < 1 or resize < image_size:
        raise ConfigError("dataset.loader.resize", resize, f"must be >= image_size={image_size}")
    shape = (3, image_size, image_size)
    if root is None:
        empty = TensorDataset(torch.empty(0, *shape), torch.empty(0, dtype=torch.long))
        return ImageData("imagenet", num_classes, shape, empty, empty, None)
    from torchvision import transforms as T

    train_files, train_labels, classes = scan_split(root, train_split)
    test_files, test_labels, _ = scan_split(root, test_split, classes)
    if len(classes) != num_classes:
        raise IPGuardError(f"{Path(root) / train_split} has {len(classes)} class folders, not "
                           f"{num_classes}: point dataset.loader.root at the ImageNet folder "
                           "(or set dataset.num_classes for a subset)")
    train_files, train_labels = _per_class(train_files, train_labels, train_per_class)
    test_files, test_labels = _per_class(test_files, test_labels, test_per_class)
    plain = T.Compose([T.Resize(resize), T.CenterCrop(image_size), T.ToTensor()])
    augmented = T.Compose([T.RandomResizedCrop(image_size), T.RandomHorizontalFlip(),
                           T.ToTensor()])
    return ImageData(
        name="imagenet",
        num_classes=num_classes,
        input_shape=shape,
        train=FolderImages(train_files, train_labels, plain),
        test=FolderImages(test_files, test_labels, plain),
        train_augmented=FolderImages(train_files, train_labels, augmented),
    )


def _per_class(
    files: list[Path], labels: list[int], limit: int | None
) -> tuple[list[Path], list[int]]:
    """The first ``limit`` files of each class (sorted by name: the same subset every time)."""
    keep = first_per_class(labels, limit).tolist()
    return [files[i] for i in keep], [labels[i] for i in keep]
