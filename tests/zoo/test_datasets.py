"""The dataset loaders on files the tests write: CIFAR in torchvision's on-disk format and as
image folders, Fashion-MNIST's IDX files, an ImageNet-style folder. Pixels come back in [0, 1],
exactly the bytes written; training batches get the paper's CIFAR augmentation."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from ipguard.data import load_cifar, load_fashion_mnist, load_imagenet
from ipguard.data.cifar import RandomCropFlip, cifar_class_names
from ipguard.data.fashion_mnist import APT_COMMAND, DEBIAN_DIR, read_idx
from ipguard.utils.errors import IPGuardError

from conftest import compose_cfg

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]


# ----------------------------------------------------------------------------- test data
def synthetic_images(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 3, 32, 32) images whose coarse colour pattern depends on the class (so a
    network can learn them), plus noise; labels cycle through all classes."""
    rng = np.random.default_rng(seed)
    patterns = rng.uniform(40, 215, size=(classes, 3, 4, 4))
    labels = np.arange(n) % classes
    x = np.repeat(np.repeat(patterns[labels], 8, axis=2), 8, axis=3)
    x = x + rng.normal(0, 20, size=x.shape)
    return np.clip(x, 0, 255).astype(np.uint8), labels.astype(np.int64)


def write_cifar(
    root: Path, name: str = "cifar10", per_batch: int = 4, test: int = 20, seed: int = 0
) -> dict[str, np.ndarray]:
    """A tiny CIFAR in torchvision's on-disk format (the pickled batches and meta file)."""
    classes = 10 if name == "cifar10" else 100
    train_n = per_batch * (5 if name == "cifar10" else 1)
    x, y = synthetic_images(train_n + test, classes, seed)
    x_train, y_train, x_test, y_test = x[:train_n], y[:train_n], x[train_n:], y[train_n:]

    def dump(file: Path, obj: dict) -> None:
        with open(file, "wb") as fh:
            pickle.dump(obj, fh, protocol=2)

    if name == "cifar10":
        base = root / "cifar-10-batches-py"
        base.mkdir(parents=True)
        for b in range(5):
            part = slice(b * per_batch, (b + 1) * per_batch)
            dump(base / f"data_batch_{b + 1}",
                 {"batch_label": f"training batch {b + 1} of 5", "labels": list(y_train[part]),
                  "data": x_train[part].reshape(-1, 3072), "filenames": ["x.png"] * per_batch})
        dump(base / "test_batch", {"batch_label": "testing batch 1 of 1", "labels":
                                   list(y_test), "data": x_test.reshape(-1, 3072)})
        dump(base / "batches.meta", {"label_names": CIFAR10_NAMES, "num_vis": 3072})
    else:
        base = root / "cifar-100-python"
        base.mkdir(parents=True)
        for file, xs, ys in (("train", x_train, y_train), ("test", x_test, y_test)):
            dump(base / file, {"fine_labels": list(ys), "coarse_labels": list(ys // 5),
                               "data": xs.reshape(-1, 3072)})
        dump(base / "meta", {"fine_label_names": [f"c{i:03d}" for i in range(100)],
                             "coarse_label_names": [f"s{i:02d}" for i in range(20)]})
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def write_image_folder(root: Path, arrays: dict[str, np.ndarray], names: list[str]) -> None:
    for split in ("train", "test"):
        for k, (img, label) in enumerate(zip(arrays[f"x_{split}"], arrays[f"y_{split}"],
                                             strict=True)):
            folder = root / split / names[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.transpose(1, 2, 0)).save(folder / f"{k:05d}.png")


def to_pixels(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x).float() / 255


# ----------------------------------------------------------------------------- CIFAR
def test_cifar10_reads_torchvision_format_exactly(tmp_path):
    written = write_cifar(tmp_path, "cifar10")
    data = load_cifar("cifar10", root=tmp_path, download=False)
    assert (data.name, data.num_classes, data.input_shape) == ("cifar10", 10, (3, 32, 32))
    x, y = data.train_tensors()
    assert x.dtype == torch.float32 and x.shape == (20, 3, 32, 32)
    assert torch.equal(x, to_pixels(written["x_train"]))   # batches 1..5 in order, bytes / 255
    assert torch.equal(y, torch.from_numpy(written["y_train"]))
    xt, yt = data.test_tensors()
    assert torch.equal(xt, to_pixels(written["x_test"]))
    assert torch.equal(yt, torch.from_numpy(written["y_test"]))
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert cifar_class_names("cifar10", tmp_path) == CIFAR10_NAMES


def test_cifar100_reads_the_fine_labels(tmp_path):
    written = write_cifar(tmp_path, "cifar100", per_batch=120, test=30)
    data = load_cifar("cifar100", root=tmp_path, download=False)
    assert data.num_classes == 100
    x, y = data.train_tensors()
    assert torch.equal(x, to_pixels(written["x_train"]))
    assert torch.equal(y, torch.from_numpy(written["y_train"]))
    assert int(y.max()) == 99                      # fine labels, not the 20 coarse ones


def test_cifar_image_folder_layout_gives_the_same_data(tmp_path):
    written = write_cifar(tmp_path / "tv", "cifar10")
    write_image_folder(tmp_path / "folder", written, CIFAR10_NAMES)
    from_folder = load_cifar("cifar10", root=tmp_path / "nothing", folder=tmp_path / "folder",
                             download=False)
    from_pickle = load_cifar("cifar10", root=tmp_path / "tv", download=False)
    # PNG is lossless, and sorted class folders give CIFAR's label order
    x1, y1 = from_folder.train_tensors()
    x2, y2 = from_pickle.train_tensors()
    order1, order2 = torch.argsort(y1, stable=True), torch.argsort(y2, stable=True)
    assert torch.equal(y1[order1], y2[order2]) and torch.equal(x1[order1], x2[order2])
    assert torch.equal(from_folder.test_tensors()[1].sort()[0],
                       from_pickle.test_tensors()[1].sort()[0])


def test_cifar_folder_with_the_wrong_class_count_is_refused(tmp_path):
    written = write_cifar(tmp_path / "tv", "cifar10")
    write_image_folder(tmp_path / "folder", written, CIFAR10_NAMES)
    with pytest.raises(IPGuardError, match="10 class folders, CIFAR-100 has 100"):
        load_cifar("cifar100", folder=tmp_path / "folder", download=False)


def test_augmentation_is_a_padded_random_crop_and_a_flip():
    x, y = synthetic_images(64, 10, seed=1)
    images = torch.from_numpy(x)
    data = RandomCropFlip(images, torch.from_numpy(y), padding=4, flip=True)
    torch.manual_seed(0)
    out, labels = data.augment(torch.arange(64))
    assert out.shape == (64, 3, 32, 32) and torch.equal(labels, torch.from_numpy(y))
    padded = torch.nn.functional.pad(images.float() / 255, (4, 4, 4, 4))
    offsets, flips = set(), []
    for k in range(64):  # each output is one 32x32 window of the padded image, maybe mirrored
        found = [(dy, dx, f) for dy in range(9) for dx in range(9) for f in (False, True)
                 if torch.equal(out[k], (lambda w: w.flip(-1) if f else w)(
                     padded[k, :, dy:dy + 32, dx:dx + 32]))]
        assert found, f"image {k} is not a crop of its padded original"
        offsets.add(found[0][:2])
        flips.append(found[0][2])
    assert len(offsets) > 20 and 10 < sum(flips) < 54   # random offsets, about half flipped
    torch.manual_seed(0)
    assert torch.equal(data.augment(torch.arange(64))[0], out)  # reproducible under a seed


def test_dataloader_batches_augment_in_one_call(tmp_path):
    write_cifar(tmp_path, "cifar10")
    data = load_cifar("cifar10", root=tmp_path, download=False, padding=2, flip=False)
    loader = DataLoader(data.train_augmented, batch_size=8, shuffle=True)
    xb, yb = next(iter(loader))
    assert xb.shape == (8, 3, 32, 32) and xb.dtype == torch.float32 and yb.dtype == torch.long
    x, _ = data.train_tensors()
    assert not torch.equal(data.train_augmented.augment(torch.arange(20))[0], x)


def test_missing_cifar_says_how_to_get_it(tmp_path):
    with pytest.raises(IPGuardError, match="download=false: set it to true") as err:
        load_cifar("cifar10", root=tmp_path, download=False)
    assert "\n" not in str(err.value) and "dataset.loader.folder" in str(err.value)
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(IPGuardError, match="data_batch_1 is missing"):
        load_cifar("cifar10", root=tmp_path, download=False)


def test_cifar_pickle_that_would_run_code_is_refused(tmp_path):
    write_cifar(tmp_path, "cifar10")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    with open(tmp_path / "cifar-10-batches-py" / "data_batch_3", "wb") as fh:
        pickle.dump({"data": Evil(), "labels": []}, fh)
    with pytest.raises(IPGuardError, match="refusing to load"):
        load_cifar("cifar10", root=tmp_path, download=False)
    assert not (tmp_path / "pwned").exists()


def test_image_folder_errors_name_the_fix(tmp_path):
    with pytest.raises(IPGuardError, match="does not exist"):
        load_cifar("cifar10", folder=tmp_path / "none", download=False)
    (tmp_path / "empty" / "train" / "cat").mkdir(parents=True)
    with pytest.raises(IPGuardError, match="no images"):
        load_cifar("cifar10", folder=tmp_path / "empty", download=False)


# ----------------------------------------------------------------------------- Fashion-MNIST
def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    magic = {1: 0x0801, 3: 0x0803}[array.ndim]
    raw = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw += array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(f"{path}.gz", "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)


def write_fashion(folder: Path, compress: bool, n: int = 30) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {}
    for prefix in ("train", "t10k"):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x, compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y, compress)
        arrays[prefix] = (x, y)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_fashion_mnist_reads_idx_files_in_torchvision_folder(tmp_path, compress):
    arrays = write_fashion(tmp_path / "FashionMNIST" / "raw", compress)
    data = load_fashion_mnist(root=tmp_path, download=False, search=[])
    assert (data.name, data.num_classes, data.input_shape) == ("fashion_mnist", 10, (1, 28, 28))
    x, y = data.train_tensors()
    assert torch.equal(x, torch.from_numpy(arrays["train"][0]).float().unsqueeze(1) / 255)
    assert torch.equal(y, torch.from_numpy(arrays["train"][1]).long())
    assert torch.equal(data.test_tensors()[0],
                       torch.from_numpy(arrays["t10k"][0]).float().unsqueeze(1) / 255)


def test_fashion_mnist_falls_back_to_the_debian_folder(tmp_path):
    write_fashion(tmp_path / "debian", compress=True, n=20)
    data = load_fashion_mnist(root=tmp_path / "empty", download=False,
                              search=[tmp_path / "debian"])
    assert len(data.train) == 20 and len(data.test) == 20


def test_fashion_mnist_missing_names_the_apt_command(tmp_path):
    with pytest.raises(IPGuardError) as err:
        load_fashion_mnist(root=tmp_path, download=False, search=[tmp_path / "nope"])
    assert APT_COMMAND in str(err.value) and "\n" not in str(err.value)


def test_truncated_idx_file_is_refused(tmp_path):
    write_idx(tmp_path / "x", np.zeros((5, 28, 28), np.uint8), compress=False)
    raw = (tmp_path / "x").read_bytes()
    (tmp_path / "x").write_bytes(raw[:-10])
    with pytest.raises(IPGuardError, match="truncated"):
        read_idx(tmp_path / "x")


@pytest.mark.skipif(not Path(DEBIAN_DIR).is_dir(), reason=f"needs `{APT_COMMAND}`")
def test_real_fashion_mnist_from_the_debian_package(tmp_path):
    data = load_fashion_mnist(root=tmp_path, download=False)
    x, y = data.train_tensors()
    assert x.shape == (60000, 1, 28, 28) and len(data.test) == 10000
    assert torch.bincount(y).tolist() == [6000] * 10
    assert float(x.mean()) == pytest.approx(0.2860, abs=1e-3)   # the config's mean
    assert float(x.std()) == pytest.approx(0.3530, abs=1e-3)    # and std


# ----------------------------------------------------------------------------- ImageNet
def write_imagenet(root: Path, classes: int = 3, per_class: int = 4) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"n{c:08d}"
            folder.mkdir(parents=True)
            for k in range(per_class):
                size = (int(rng.integers(40, 80)), int(rng.integers(40, 80)))
                img = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
                Image.fromarray(img).save(folder / f"img{k}.JPEG", format="JPEG")


def test_imagenet_folder_resizes_and_keeps_a_fixed_test_subset(tmp_path):
    write_imagenet(tmp_path)
    data = load_imagenet(tmp_path, image_size=32, resize=36, test_per_class=2, num_classes=3)
    assert data.input_shape == (3, 32, 32) and len(data.train) == 12 and len(data.test) == 6
    x, y = data.test_tensors()
    assert x.shape == (6, 3, 32, 32) and 0 <= float(x.min()) and float(x.max()) <= 1
    assert y.tolist() == [0, 0, 1, 1, 2, 2]          # sorted wnids, first files of each class
    assert torch.equal(data.test_tensors()[0], x)     # centre crops: the same every time
    xa, _ = data.train_augmented[0]
    assert xa.shape == (3, 32, 32)


def test_imagenet_without_root_is_empty_and_wrong_class_count_is_refused(tmp_path):
    data = load_imagenet(None)
    assert len(data.train) == 0 and len(data.test) == 0 and data.input_shape == (3, 224, 224)
    write_imagenet(tmp_path)
    with pytest.raises(IPGuardError, match="3 class folders, not 1000"):
        load_imagenet(tmp_path)


# ----------------------------------------------------------------------------- configs
@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_dataset_config_reads_from_the_data_dir(tmp_path, name):
    write_cifar(tmp_path / "data", name, per_batch=100 if name == "cifar100" else 4)
    cfg = compose_cfg("train", [f"dataset={name}", "dataset.loader.download=false"], tmp_path)
    data = hydra.utils.call(cfg.dataset.loader)
    assert data.name == name and data.num_classes == cfg.dataset.num_classes
    assert list(data.input_shape) == list(cfg.dataset.input_shape)
