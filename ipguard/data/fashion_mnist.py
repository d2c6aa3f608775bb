"""Fashion-MNIST (Xiao et al. 2017): 1x28x28 grey images of 10 clothing classes, 60 000 train /
10 000 test. The second embedded dataset: real, harder than digits, and small enough for a CPU.

Read from the four original IDX files (plain or gzipped), looked for in torchvision's folder
``<root>/FashionMNIST/raw/`` and then in Debian's package ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist/``), so it works offline; else torchvision downloads it."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ipguard.data.base import ImageData, first_per_class
from ipguard.utils.errors import IPGuardError

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
APT_COMMAND = "apt-get install -y dataset-fashion-mnist"
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")
_MAGIC = {0x0801: 1, 0x0803: 3}  # unsigned-byte IDX: labels (1 dim), images (3 dims)


def load_fashion_mnist(
    root: str | Path = "data",
    download: bool = True,
    search: Sequence[str | Path] = (DEBIAN_DIR,),
    train_per_class: int | None = None,
    test_per_class: int | None = None,
) -> ImageData:
    """Pixels scaled from 0..255 to [0, 1]; the original train/test split.
    ``train_per_class`` / ``test_per_class`` keep the first that many images of each class
    (a stratified subset, the same every time; None: all), for a population on a CPU."""
    folders = [Path(root) / "FashionMNIST" / "raw", *map(Path, search)]
    folder = next((f for f in folders if _complete(f)), None)
    if folder is None:
        folder = _download(Path(root), folders, download)
    x_train, y_train = _read_pair(folder, "train")
    x_test, y_test = _read_pair(folder, "test")
    keep = first_per_class(y_train, train_per_class, "dataset.loader.train_per_class")
    x_train, y_train = x_train[keep], y_train[keep]
    keep = first_per_class(y_test, test_per_class, "dataset.loader.test_per_class")
    x_test, y_test = x_test[keep], y_test[keep]
    return ImageData(
        name="fashion_mnist",
        num_classes=10,
        input_shape=(1, 28, 28),
        train=TensorDataset(x_train, y_train),
        test=TensorDataset(x_test, y_test),
    )


def read_idx(path: str | Path) -> np.ndarray:
    """An unsigned-byte IDX file (plain or .gz) as a uint8 array of its declared shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise IPGuardError(f"cannot read {path} ({exc}): reinstall it with `{APT_COMMAND}` "
                           "or delete it and download again") from exc
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1
    if magic not in _MAGIC:
        raise IPGuardError(f"{path} is not an unsigned-byte IDX file (magic {magic:#x}): "
                           f"reinstall it with `{APT_COMMAND}`")
    dims = _MAGIC[magic]
    shape = tuple(int.from_bytes(raw[4 + 4 * d : 8 + 4 * d], "big") for d in range(dims))
    start = 4 + 4 * dims
    if len(raw) - start != int(np.prod(shape)):
        raise IPGuardError(f"{path} is truncated: {len(raw) - start} bytes for shape {shape}; "
                           f"reinstall it with `{APT_COMMAND}`")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(shape)


def _find(folder: Path, name: str) -> Path | None:
    return next((p for p in (folder / name, folder / f"{name}.gz") if p.is_file()), None)


def _complete(folder: Path) -> bool:
    return all(_find(folder, n) is not None for pair in FILES.values() for n in pair)


def _read_pair(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    images_name, labels_name = FILES[split]
    images = read_idx(_find(folder, images_name))  # type: ignore[arg-type]
    labels = read_idx(_find(folder, labels_name))  # type: ignore[arg-type]
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise IPGuardError(f"{folder}: {split} images {images.shape} and labels {labels.shape} "
                           f"do not pair up; reinstall them with `{APT_COMMAND}`")
    if images.shape[1:] != (28, 28) or (len(labels) and int(labels.max()) > 9):
        raise IPGuardError(f"{folder}: {split} is not Fashion-MNIST (images {images.shape[1:]}, "
                           f"largest label {int(labels.max())})")
    x = torch.from_numpy(images.copy()).unsqueeze(1).float().div_(255)
    return x, torch.from_numpy(labels.astype(np.int64))


def _download(root: Path, looked: list[Path], download: bool) -> Path:
    where = ", ".join(str(f) for f in looked)
    if not download:
        raise IPGuardError(f"Fashion-MNIST not found in {where} and download=false: install it "
                           f"offline with `{APT_COMMAND}` (Debian) or set "
                           "dataset.loader.download=true")
    import torchvision

    try:
        torchvision.datasets.FashionMNIST(str(root), train=True, download=True)
    except Exception as exc:  # noqa: BLE001 - network errors come in many types
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IPGuardError(f"Fashion-MNIST not found in {where} and the download failed "
                           f"({msg}): install it offline with `{APT_COMMAND}`") from exc
    return root / "FashionMNIST" / "raw"
