"""The image-folder layout (``<root>/<split>/<class>/<image>``), as torchvision's ImageFolder
reads it: class folders sorted by name give the labels 0..C-1.

Two ways in: :func:`scan_split` lists files and labels (for large sets such as ImageNet, read
lazily), :func:`read_split` loads a small set (CIFAR-sized) into one uint8 tensor."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ipguard.utils.errors import IPGuardError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def scan_split(
    root: str | Path, split: str, classes: Sequence[str] | None = None
) -> tuple[list[Path], list[int], list[str]]:
    """Files and labels of ``root/split``; ``classes`` fixes the label order (the train split's)
    so that a test split with a missing class folder still labels the others correctly."""
    folder = Path(root) / split
    if not folder.is_dir():
        raise IPGuardError(f"image folder {folder} does not exist: expected "
                           f"{Path(root)}/{split}/<class>/<image> (one folder per class)")
    found = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not found:
        raise IPGuardError(f"{folder} has no class folders: put each class's images in "
                           f"{folder}/<class>/")
    names = list(classes) if classes is not None else found
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise IPGuardError(f"{folder} has class folders {unknown[:5]} that the train split "
                           "lacks: both splits need the same class folders")
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(names):
        sub = folder / name
        if not sub.is_dir():
            continue
        images = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        files.extend(images)
        labels.extend([label] * len(images))
    if not files:
        raise IPGuardError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}/<class>/: "
                           "copy the dataset's images there")
    return files, labels, names


def read_image(path: Path, mode: str = "RGB", size: int | None = None) -> np.ndarray:
    """One image as uint8 (H, W, C), converted to ``mode`` and resized to size x size if given."""
    try:
        with Image.open(path) as img:
            img = img.convert(mode)
            if size is not None and img.size != (size, size):
                img = img.resize((size, size), Image.BILINEAR)
            array = np.asarray(img, dtype=np.uint8)
    except OSError as exc:
        raise IPGuardError(f"cannot read image {path} ({exc}): replace or delete it") from exc
    return array[:, :, None] if array.ndim == 2 else array


def read_split(
    root: str | Path,
    split: str,
    size: int,
    mode: str = "RGB",
    classes: Sequence[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """All images of ``root/split`` as uint8 (N, C, size, size), labels int64 (N,), class names."""
    files, labels, names = scan_split(root, split, classes)
    x = np.stack([read_image(f, mode, size) for f in files])
    return (torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(),
            torch.tensor(labels, dtype=torch.long), names)
