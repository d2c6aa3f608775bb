"""CIFAR-10 and CIFAR-100 (32x32x3, 50 000 train / 10 000 test), as the paper uses them.

Read from torchvision's on-disk format (``cifar-10-batches-py/`` or ``cifar-100-python/``,
downloaded there by torchvision on first use), or from an image-folder copy
(``<folder>/train/<class>/*``, ``<folder>/test/<class>/*``). Images stay uint8 in memory
(150 MB for the training set); training batches are augmented (random crop with zero padding,
horizontal flip) for a whole batch at once, so data loading keeps a GPU busy."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from ipguard.data.base import ImageData, first_per_class
from ipguard.data.imagefolder import read_split
from ipguard.utils.errors import ConfigError, IPGuardError


@dataclass(frozen=True)
class CifarFiles:
    """Where torchvision keeps one CIFAR variant, and the keys of its pickled batches."""

    title: str
    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: str
    names_key: str
    labels_key: str
    num_classes: int
    torchvision_class: str


CIFAR = {
    "cifar10": CifarFiles("CIFAR-10", "cifar-10-batches-py",
                          tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",),
                          "batches.meta", "label_names", "labels", 10, "CIFAR10"),
    "cifar100": CifarFiles("CIFAR-100", "cifar-100-python", ("train",), ("test",), "meta",
                           "fine_label_names", "fine_labels", 100, "CIFAR100"),
}


class PixelImages(Dataset):
    """uint8 images (N, C, H, W) served as float pixels in [0, 1] with int64 labels."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or len(images) != len(labels):
            raise ValueError("images must be uint8 (N, C, H, W) with one label per image")
        self.images, self.labels = images, labels.long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i].float().div_(255), self.labels[i]

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole set as float tensors (what ``ImageData.train_tensors`` returns)."""
        return self.images.float().div_(255), self.labels


class RandomCropFlip(PixelImages):
    """The standard CIFAR augmentation: pad by ``padding`` zeros, crop back to size at a random
    offset, flip left-right with probability 1/2. ``__getitems__`` augments a whole batch in
    one vectorised step (the DataLoader calls it instead of one ``__getitem__`` per image)."""

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, padding: int = 4, flip: bool = True
    ) -> None:
        super().__init__(images, labels)
        if padding < 0:
            raise ConfigError("dataset.loader.padding", padding, "padding must be >= 0")
        self.padding, self.flip = padding, flip

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.augment(torch.tensor([i]))
        return x[0], y[0]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.augment(torch.as_tensor(indices))
        return list(zip(x.unbind(0), y.unbind(0), strict=True))

    def augment(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.images[idx]
        n, c, h, w = x.shape
        p = self.padding
        if p:
            x = F.pad(x, (p, p, p, p))
            top = torch.randint(0, 2 * p + 1, (n,))
            left = torch.randint(0, 2 * p + 1, (n,))
            rows = (top[:, None] + torch.arange(h))[:, None, :, None]
            cols = (left[:, None] + torch.arange(w))[:, None, None, :]
            x = x[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None],
                  rows, cols]
        if self.flip:
            flipped = (torch.rand(n) < 0.5)[:, None, None, None]
            x = torch.where(flipped, x.flip(-1), x)
        return x.float().div_(255), self.labels[idx]


def load_cifar(
    name: str = "cifar10",
    root: str | Path = "data",
    folder: str | Path | None = None,
    download: bool = True,
    padding: int = 4,
    flip: bool = True,
    train_per_class: int | None = None,
    test_per_class: int | None = None,
) -> ImageData:
    """CIFAR-10/100 from ``folder`` (image-folder layout) if given, else from torchvision's
    format under ``root`` (downloaded there first when ``download`` and it is missing).
    ``train_per_class`` / ``test_per_class`` keep the first that many images of each class
    (a stratified subset, the same every time; None: all), for a zoo that trains on a CPU."""
    if name not in CIFAR:
        raise ConfigError("dataset.loader.name", name, f"choose one of {sorted(CIFAR)}")
    spec = CIFAR[name]
    if folder is not None:
        x_train, y_train, classes = read_split(folder, "train", 32)
        x_test, y_test, _ = read_split(folder, "test", 32, classes=classes)
        if len(classes) != spec.num_classes:
            raise IPGuardError(f"{folder}/train has {len(classes)} class folders, {spec.title} "
                               f"has {spec.num_classes}: point dataset.loader.folder at a "
                               f"{spec.title} copy")
    else:
        base = Path(root) / spec.folder
        if not base.is_dir():
            _download(spec, Path(root), download)
        x_train, y_train = _read_batches(base, spec, spec.train)
        x_test, y_test = _read_batches(base, spec, spec.test)
    keep = first_per_class(y_train, train_per_class, "dataset.loader.train_per_class")
    x_train, y_train = x_train[keep], y_train[keep]
    keep = first_per_class(y_test, test_per_class, "dataset.loader.test_per_class")
    x_test, y_test = x_test[keep], y_test[keep]
    return ImageData(
        name=name,
        num_classes=spec.num_classes,
        input_shape=(3, 32, 32),
        train=PixelImages(x_train, y_train),
        test=PixelImages(x_test, y_test),
        train_augmented=RandomCropFlip(x_train, y_train, padding=padding, flip=flip),
    )


def cifar_class_names(name: str, root: str | Path) -> list[str]:
    """The class names in label order, from the ``meta`` file torchvision keeps."""
    spec = CIFAR[name]
    meta = _unpickle(Path(root) / spec.folder / spec.meta)
    return [str(n) for n in meta[spec.names_key]]


def _download(spec: CifarFiles, root: Path, download: bool) -> None:
    fix = "or set dataset.loader.folder=<a copy laid out as train/<class>/*, test/<class>/*>"
    if not download:
        raise IPGuardError(f"{spec.title} not found at {root / spec.folder} (torchvision's "
                           "format) and dataset.loader.download=false: set it to true where a "
                           f"network is available, {fix}")
    import torchvision

    try:
        getattr(torchvision.datasets, spec.torchvision_class)(str(root), train=True,
                                                               download=True)
    except Exception as exc:  # noqa: BLE001 - network and archive errors come in many types
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IPGuardError(f"could not download {spec.title} into {root} ({msg}): copy "
                           f"{spec.folder}/ there from a machine with a network, {fix}") from exc


def _read_batches(
    base: Path, spec: CifarFiles, files: tuple[str, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for file in files:
        batch = _unpickle(base / file)
        try:
            data = np.asarray(batch["data"], dtype=np.uint8)
            labels = np.asarray(batch[spec.labels_key], dtype=np.int64)
        except KeyError as exc:
            raise IPGuardError(f"{base / file} lacks the key {exc} of {spec.title}'s format: "
                               "re-download it (delete the folder, download=true)") from exc
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
            raise IPGuardError(f"{base / file} holds data of shape {data.shape}, not "
                               f"(N, 3072) with N labels: re-download {spec.title}")
        xs.append(torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()))
        ys.append(torch.from_numpy(labels))
    x, y = torch.cat(xs), torch.cat(ys)
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= spec.num_classes):
        raise IPGuardError(f"{base}: labels outside 0..{spec.num_classes - 1}: is this "
                           f"{spec.title}?")
    return x, y


class _ArrayUnpickler(pickle.Unpickler):
    """CIFAR's batches are pickles of dicts of lists and numpy arrays; anything else (code to
    run on load) is refused, so a tampered file cannot execute."""

    ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # how protocol 2 writes bytes from Python 3
    }

    def find_class(self, module: str, name: str) -> object:
        if module.startswith("numpy.core"):  # NumPy 1 names, as Python 2's cPickle wrote them
            module = "numpy._core" + module[len("numpy.core"):]
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _unpickle(file: Path) -> dict:
    if not file.is_file():
        raise IPGuardError(f"{file} is missing: the CIFAR folder is incomplete; delete "
                           f"{file.parent} and download again (dataset.loader.download=true)")
    try:
        with open(file, "rb") as fh:
            data = _ArrayUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise IPGuardError(f"{file} is not a CIFAR batch ({exc}): delete {file.parent} and "
                           "download again") from exc
    if not isinstance(data, dict):
        raise IPGuardError(f"{file} is not a CIFAR batch (no dict inside): download again")
    return data
