"""Limits (docs/reliability.md, section 7): a zoo build or a bench job that would need more memory
than the machine has fails before it starts, with the estimate and what to change; verification
holds one suspect at a time, so memory stays flat as the zoo grows (measured for 20 and 80 members
by benchmarks/memory.py)."""

from __future__ import annotations

import weakref
from pathlib import Path

import pytest

import ipguard.app.runtime as runtime
from ipguard.app.bench import check_bench
from ipguard.app.checks import check_extraction_memory, training_images
from ipguard.app.config import typed
from ipguard.app.schema import BenchConfig
from ipguard.utils.errors import IPGuardError

from conftest import compose_cfg
from helpers import MICRO_ZOO, QUICK_BENCH, micro_zoo

GB = 1 << 30


def test_available_memory_is_read_from_the_kernel():
    avail = runtime.available_memory()
    total = next(int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text()
                 .splitlines() if line.startswith("MemTotal:"))
    assert avail is not None and 0 < avail <= total


def _memory(tmp_path, overrides: list[str], available: int) -> None:
    cfg = typed(compose_cfg("bench", overrides, tmp_path), BenchConfig)
    check_extraction_memory(cfg.n, cfg.dataset, str(cfg.init), available)


@pytest.mark.parametrize(("overrides", "images"), [
    (["dataset=imagenet"], 0),                                  # never downloaded, no folder
    (["dataset=imagenet", "dataset.loader.root=/data/imagenet"], 1281167),
    (["dataset=cifar10"], 50000),                               # torchvision downloads it
    (["dataset=imagenet", "dataset.loader.root=/d", "dataset.loader.train_per_class=2"], 2000),
])
def test_init_train_stacks_what_the_dataset_schema_says_exists(tmp_path, overrides, images):
    """Whether a dataset without a folder has training images is the dataset's own fact
    (``downloadable`` in conf/dataset/), not a name the checks know."""
    cfg = typed(compose_cfg("bench", overrides, tmp_path), BenchConfig)
    assert training_images(cfg.dataset) == images


def test_imagenet_init_train_would_stack_719_gib_and_fails_early(tmp_path):
    with pytest.raises(IPGuardError) as exc:
        _memory(tmp_path, ["dataset=imagenet", "init=train", "dataset.loader.root=/data/imagenet"],
                available=64 * GB)
    text = str(exc.value)
    assert "\n" not in text and "needs about 718.9 GiB" in text and "64.0 GiB is available" in text
    assert "init=train stacks 1281167 training images" in text and "init=random" in text
    # the advice works: a per-class subset, or random starts, fit
    _memory(tmp_path, ["dataset=imagenet", "init=train", "dataset.loader.root=/data/imagenet",
                       "dataset.loader.train_per_class=10"], available=64 * GB)
    _memory(tmp_path, ["dataset=imagenet", "init=random"], available=64 * GB)


def test_bench_config_check_includes_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "available_memory", lambda: 100 * 1024)
    with pytest.raises(IPGuardError, match=r"extracting 100 points on digits needs about"):
        check_bench(typed(compose_cfg("bench", [], tmp_path), BenchConfig))
    monkeypatch.setattr(runtime, "available_memory", lambda: 64 * 1024 * 1024)
    check_bench(typed(compose_cfg("bench", [], tmp_path), BenchConfig))


def test_zoo_that_would_not_fit_fails_before_training(tmp_path, monkeypatch):
    from train.zoo import build_zoo

    monkeypatch.setattr(runtime, "available_memory", lambda: 1024 * 1024)
    cfg = compose_cfg("train", MICRO_ZOO, tmp_path)
    with pytest.raises(IPGuardError) as exc:
        build_zoo(cfg)
    text = str(exc.value)
    assert "building the digits zoo (member=all) needs about" in text and "\n" not in text
    assert "largest model in training" in text
    assert not (tmp_path / "zoo").exists()


def test_cifar_zoo_estimate_is_the_right_size(tmp_path):
    """The estimate counts what dominates: CIFAR-100's splits as float32 and the VGG16-BN
    negative (14.7 M parameters) being trained with Adam: about 1.6 GB."""
    from torch.utils.data import TensorDataset

    from ipguard.data import ImageData
    from train.build import ZooBuilder
    from train.schema import TrainConfig

    class Sized(TensorDataset):
        def __init__(self, n: int) -> None:
            self.n = n

        def __len__(self) -> int:
            return self.n

    zoo = typed(compose_cfg("train", ["dataset=cifar100"], tmp_path), TrainConfig).zoo
    data = ImageData("cifar100", 100, (3, 32, 32), Sized(50000), Sized(10000))
    need = ZooBuilder(zoo, data, tmp_path).check_memory("all", available=64 * GB)
    assert 1.4e9 < need < 1.9e9
    with pytest.raises(IPGuardError, match="test split 117.2 MiB"):
        ZooBuilder(zoo, data, tmp_path).check_memory("all", available=GB)


def test_verification_holds_one_suspect_at_a_time(tmp_path, monkeypatch):
    """While the bench verifies, at most one suspect classifier is alive: the previous one is
    freed before the next is loaded (the zoo is streamed, not held)."""
    from ipguard.app.bench import run_bench
    from ipguard.zoo import Member

    alive: weakref.WeakSet = weakref.WeakSet()
    most = [0]
    load = Member.load_classifier

    def counted(self, device="cpu"):
        most[0] = max(most[0], len(alive) + 1)
        classifier = load(self, device)
        alive.add(classifier)
        return classifier

    monkeypatch.setattr(Member, "load_classifier", counted)
    record = run_bench(compose_cfg("bench", [*QUICK_BENCH, f"zoo_dir={micro_zoo()}"],
                                   tmp_path)).record
    assert len(record.suspects) == 9
    assert most[0] == 1
