"""Missing or broken inputs (docs/reliability.md, section 2): a missing zoo, a member whose weights
are missing, truncated or of another architecture, an invalid member.json, a dataset folder that
does not exist or has no images, a fingerprint file of the wrong shape, dtype or range: one clear
error naming the file and the command that fixes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file

from ipguard.core.fingerprint import Fingerprint, FingerprintMeta
from ipguard.utils.errors import IPGuardError, MissingZooError
from ipguard.zoo import load_zoo

from conftest import compose_cfg
from helpers import QUICK_BENCH, copy_zoo

REBUILD = "`python -m train.zoo`"


@pytest.fixture()
def zoo(tmp_path) -> Path:
    return copy_zoo(tmp_path)


def _one_line(exc: pytest.ExceptionInfo, *parts: str) -> None:
    text = str(exc.value)
    assert "\n" not in text, text
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"


# --------------------------------------------------------------------------- zoo
def test_missing_zoo_names_folder_and_command(tmp_path):
    with pytest.raises(MissingZooError) as exc:
        load_zoo(tmp_path / "zoo" / "digits", build_command="python -m train.zoo dataset=digits")
    _one_line(exc, str(tmp_path / "zoo" / "digits"), "`python -m train.zoo dataset=digits`")


def test_zoo_path_that_is_a_file(tmp_path):
    (tmp_path / "zoo").write_text("")
    with pytest.raises(MissingZooError) as exc:
        load_zoo(tmp_path / "zoo")
    _one_line(exc, "is a file, not a folder", REBUILD)


def test_missing_weights_fail_when_the_zoo_loads(zoo):
    file = zoo / "negative" / "same_arch-s1" / "weights.safetensors"
    file.unlink()
    with pytest.raises(MissingZooError) as exc:
        load_zoo(zoo)
    _one_line(exc, str(file), "is missing", REBUILD)


@pytest.mark.parametrize("keep", [0, 7, 50, 5000])
def test_truncated_weights_fail_when_the_zoo_loads(zoo, keep):
    file = zoo / "positive" / "ftll" / "weights.safetensors"
    file.write_bytes(file.read_bytes()[:keep])
    with pytest.raises(IPGuardError) as exc:
        load_zoo(zoo)
    _one_line(exc, str(file), "truncated or corrupt", f"delete {file.parent}", REBUILD)


def test_truncated_forest_fails_when_the_zoo_loads(zoo):
    file = zoo / "negative" / "forest-s0" / "forest.safetensors"
    file.write_bytes(file.read_bytes()[:-10])
    with pytest.raises(IPGuardError) as exc:
        load_zoo(zoo)
    _one_line(exc, str(file), "truncated or corrupt")


def test_weights_of_another_architecture(zoo):
    shutil.copy(zoo / "negative" / "lenet-s0" / "weights.safetensors",
                zoo / "negative" / "same_arch-s1" / "weights.safetensors")
    member = load_zoo(zoo).find("same_arch-s1")
    with pytest.raises(IPGuardError) as exc:
        member.load_module()
    _one_line(exc, "same_arch-s1/weights.safetensors", "does not fit architecture small_cnn",
              REBUILD)


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not valid JSON"),
    ("", "is not valid JSON"),
    ("[1, 2]", "holds a list, not an object"),
    ('{"name": "x", "role": "negative"}', "lacks fields ['arch', 'kind', 'seed']"),
    ('{"name": "same_arch-s1", "role": "boss", "kind": "k", "arch": "a", "seed": 1}',
     "role 'boss' is not one of"),
    ('{"name": "same_arch-s1", "role": "negative", "kind": "k", "arch": "a", "seed": "one"}',
     "field 'seed' = 'one' has the wrong type"),
    ('{"name": "same_arch-s1", "role": "negative", "kind": "k", "arch": "a", "seed": 1, '
     '"hyper": []}', "field 'hyper'"),
])
def test_invalid_member_json(zoo, text, message):
    file = zoo / "negative" / "same_arch-s1" / "member.json"
    file.write_text(text)
    with pytest.raises(IPGuardError) as exc:
        load_zoo(zoo)
    _one_line(exc, str(file), message, REBUILD)


def test_member_json_with_an_unknown_architecture(zoo):
    file = zoo / "negative" / "same_arch-s1" / "member.json"
    data = json.loads(file.read_text())
    data["model"]["_target_"] = "ipguard.models.digits.small_cnn_v9"
    file.write_text(json.dumps(data))
    member = load_zoo(zoo).find("same_arch-s1")
    with pytest.raises(IPGuardError) as exc:
        member.load_module()
    _one_line(exc, str(file), "small_cnn_v9", "offers ['lenet5', 'small_cnn', 'vgg_small']")


def test_member_in_the_wrong_role_folder_or_twice(zoo):
    moved = zoo / "positive" / "same_arch-s1"
    shutil.copytree(zoo / "negative" / "same_arch-s1", moved)
    with pytest.raises(IPGuardError) as exc:
        load_zoo(zoo)
    _one_line(exc, "says role 'negative' but lies under positive/")
    shutil.rmtree(moved)
    shutil.copytree(zoo / "negative" / "same_arch-s1", zoo / "negative" / "copy")
    with pytest.raises(IPGuardError) as exc:
        load_zoo(zoo)
    _one_line(exc, "two members are named 'same_arch-s1'", "delete one")


def test_zoo_without_target(zoo):
    shutil.rmtree(zoo / "target")
    with pytest.raises(MissingZooError) as exc:
        load_zoo(zoo)
    _one_line(exc, "expected one target, found 0", "member=target")


def test_tampered_forest_is_refused_not_looped_forever(zoo):
    file = zoo / "negative" / "forest-s0" / "forest.safetensors"
    from safetensors.numpy import load_file

    arrays = load_file(str(file))
    arrays["left"][0, 0] = 0  # the root's left child is the root itself: a cycle
    save_numpy(arrays, str(file))
    member = load_zoo(zoo).find("forest-s0")
    with pytest.raises(IPGuardError) as exc:
        member.load_classifier()
    _one_line(exc, str(file), "not a valid forest", REBUILD)


def test_bench_fails_on_a_broken_member_before_extracting(zoo, tmp_path):
    """The whole zoo is checked when it loads: no extraction time is spent on a run that
    would fail at the 7th suspect."""
    from ipguard.app.bench import run_bench

    (zoo / "negative" / "lenet-s0" / "weights.safetensors").write_bytes(b"\0" * 12)
    cfg = compose_cfg("bench", [*QUICK_BENCH, f"zoo_dir={zoo}"], tmp_path)
    with pytest.raises(IPGuardError, match="lenet-s0/weights.safetensors is truncated"):
        run_bench(cfg)
    assert not list(tmp_path.rglob("fingerprint.safetensors"))


# --------------------------------------------------------------------------- datasets
def test_dataset_folder_that_does_not_exist():
    from ipguard.data import load_cifar

    with pytest.raises(IPGuardError) as exc:
        load_cifar("cifar10", folder="/nowhere/cifar10")
    _one_line(exc, "image folder /nowhere/cifar10/train does not exist",
              "/nowhere/cifar10/train/<class>/<image>")


def test_dataset_folder_without_images(tmp_path):
    from ipguard.data import load_cifar

    for c in ("cat", "dog"):
        (tmp_path / "train" / c).mkdir(parents=True)
        (tmp_path / "train" / c / "notes.txt").write_text("no images here")
    with pytest.raises(IPGuardError) as exc:
        load_cifar("cifar10", folder=tmp_path)
    _one_line(exc, "no images", f"under {tmp_path / 'train'}/<class>/", "copy the dataset")
    shutil.rmtree(tmp_path / "train")
    (tmp_path / "train").mkdir()
    with pytest.raises(IPGuardError) as exc:
        load_cifar("cifar10", folder=tmp_path)
    _one_line(exc, f"{tmp_path / 'train'} has no class folders")


def test_imagenet_root_that_does_not_exist():
    from ipguard.data import load_imagenet

    with pytest.raises(IPGuardError) as exc:
        load_imagenet(root="/nowhere/imagenet")
    _one_line(exc, "/nowhere/imagenet/train does not exist")


def test_cifar_without_download_names_the_folder(tmp_path):
    from ipguard.data import load_cifar

    with pytest.raises(IPGuardError) as exc:
        load_cifar("cifar10", root=tmp_path, download=False)
    _one_line(exc, str(tmp_path))


# --------------------------------------------------------------------------- fingerprints
def _write(path: Path, x: torch.Tensor, y: torch.Tensor, **extra: torch.Tensor) -> Path:
    save_file({"x": x, "y": y, **extra}, str(path), metadata={"format": "ipguard.fingerprint/1"})
    return path


@pytest.mark.parametrize("x, y, extra, kwargs, message", [
    (torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long), {}, {"input_shape": (3, 32, 32)},
     "points of shape (1, 8, 8), but the target takes (3, 32, 32)"),
    (torch.rand(4, 1, 8, 8), torch.full((4,), 12), {}, {"num_classes": 10}, "labels outside 0..9"),
    (torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long), {"stats.l2": torch.rand(3)}, {},
     "stats.l2 has shape (3,)"),
    (torch.rand(0, 1, 8, 8), torch.zeros(0, dtype=torch.long), {}, {}, "at least one point"),
    (torch.full((2, 1, 8, 8), float("nan")), torch.zeros(2, dtype=torch.long), {}, {},
     "must lie in [0, 1]"),
    (torch.rand(4, 1, 8, 8).double() * 3, torch.zeros(4, dtype=torch.long), {}, {},
     "must lie in [0, 1]"),
    (torch.randint(0, 2, (4, 1, 8, 8)), torch.zeros(4, dtype=torch.long), {}, {},
     "floating point"),
    (torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.bool), {}, {}, "integer labels"),
])
def test_bad_fingerprint_file_names_file_and_command(tmp_path, x, y, extra, kwargs, message):
    path = _write(tmp_path / "fp.safetensors", x, y, **extra)
    with pytest.raises(IPGuardError) as exc:
        Fingerprint.load(path, **kwargs)
    _one_line(exc, str(path), message, "`python -m ipguard.bench`")


def test_fingerprint_of_another_format_or_missing(tmp_path):
    path = tmp_path / "fp.safetensors"
    save_file({"x": torch.rand(2, 1, 8, 8), "y": torch.zeros(2, dtype=torch.long)}, str(path),
              metadata={"format": "someone.else/3"})
    with pytest.raises(IPGuardError) as exc:
        Fingerprint.load(path)
    _one_line(exc, "format 'someone.else/3'", "`python -m ipguard.bench`")
    with pytest.raises(IPGuardError) as exc:
        Fingerprint.load(tmp_path / "none.safetensors")
    _one_line(exc, "fingerprint file not found", "`python -m ipguard.bench`")
    save_numpy({"x": np.zeros(3, dtype=np.float32)}, str(path))
    with pytest.raises(IPGuardError, match="must hold tensors 'x' and 'y'"):
        Fingerprint.load(path)


def test_a_good_fingerprint_still_loads(tmp_path):
    fp = Fingerprint(torch.rand(3, 1, 8, 8), torch.tensor([1, 2, 3]), FingerprintMeta(seed=0),
                     {"l2": torch.rand(3)})
    back = Fingerprint.load(fp.save(tmp_path / "fp.safetensors"), input_shape=(1, 8, 8),
                            num_classes=10)
    assert torch.equal(back.x, fp.x) and back.meta == FingerprintMeta(seed=0)
