"""CIFAR on a CPU (docs/zoos.md, "CIFAR on a CPU"): ``cpu=cifar10`` / ``cpu=cifar100`` pick the
dataset, a stratified subset, short recipes, fewer members and folders of their own; here end to end
on CIFAR files in torchvision's format that the test writes (real CIFAR cannot be downloaded on
these machines; the preset's own numbers stay as they are for real CIFAR)."""

from __future__ import annotations

import pytest
from test_datasets import write_cifar

from ipguard.app.bench import run_bench
from ipguard.app.config import typed
from ipguard.app.runtime import cpu_precision, native_bf16
from ipguard.data import load_cifar
from ipguard.zoo import load_zoo
from train.fit import warn_emulated_bf16
from train.schema import TrainConfig
from train.zoo import build_zoo

from conftest import compose_cfg

SHORTER = [  # the preset's structure, with epochs a test can afford
    "zoo.target.recipe.epochs=2", "zoo.negatives.same_arch.count=1",
    "zoo.negatives.archs.lenet.count=1", "zoo.negatives.archs.lenet.recipe.epochs=1",
    "zoo.negatives.archs.vgg.count=1", "zoo.negatives.archs.vgg.recipe.epochs=1",
    "zoo.negatives.forest.count=1", "zoo.positives.wp.largest=0.1",
    "zoo.positives.fp.largest=0.0625", "dataset.loader.download=false", "logger=none",
    "retrain_at_chance=false"]   # random pixels: every network is at chance


@pytest.mark.parametrize("dataset, target, per_class", [("cifar10", "resnet20", 1000),
                                                        ("cifar100", "wrn22_1", 100)])
def test_the_preset_is_the_papers_zoo_shape_made_small(tmp_path, dataset, target, per_class):
    cfg = typed(compose_cfg("train", [f"cpu={dataset}"], tmp_path), TrainConfig)
    zoo = cfg.zoo
    assert cfg.dataset.name == dataset and cfg.zoo_dir == str(tmp_path / "zoo-cpu" / dataset)
    assert cfg.dataset.loader["train_per_class"] == per_class
    assert zoo.target.arch == target and zoo.target.recipe.epochs == 15
    assert cfg.trainer["precision"] == cpu_precision()  # bf16 only where the CPU has it
    assert (zoo.negatives.same_arch.count, zoo.negatives.archs["lenet"].count,
            zoo.negatives.archs["vgg"].count, zoo.negatives.forest.count) == (5, 3, 3, 3)
    assert zoo.negatives.archs["vgg"].model["_target_"] == "ipguard.models.digits.vgg_small"
    assert zoo.positives.wp.recipe.epochs == zoo.positives.fp.recipe.epochs == 1


def test_the_subset_is_stratified_and_the_same_every_time(tmp_path):
    written = write_cifar(tmp_path, "cifar10", per_batch=40, test=60)
    data = load_cifar("cifar10", root=tmp_path, download=False, train_per_class=3,
                      test_per_class=2)
    x, y = data.train_tensors()
    assert sorted(y.tolist()) == sorted(list(range(10)) * 3)
    first = [i for i, label in enumerate(written["y_train"]) if
             list(written["y_train"][:i + 1]).count(label) <= 3]
    assert (x * 255).round().byte().tolist() == written["x_train"][first].tolist()
    assert len(data.test) == 20


def test_zoo_and_bench_run_end_to_end_on_cifar_files(tmp_path):
    write_cifar(tmp_path / "data", "cifar10", per_batch=40, test=60)
    builder = build_zoo(compose_cfg("train", ["cpu=cifar10", *SHORTER], tmp_path))
    assert "target" in builder.built and not (tmp_path / "zoo").exists()
    zoo = load_zoo(tmp_path / "zoo-cpu" / "cifar10")
    assert {m.kind for m in zoo.members} >= {"target", "ftll", "rtal", "same_arch", "vgg",
                                             "forest"}
    result = run_bench(compose_cfg("bench", ["cpu=cifar10", "n=10", "logger=none",
                                             "method.max_iter=50"], tmp_path))
    assert result.path.parent == tmp_path / "results-cpu" / "cifar10" / "adhoc"
    assert result.record.setting.params["lr"] == 0.0005  # CIFAR's IPGuard step (conf/tuning)


@pytest.mark.parametrize("flags, native", [
    ("fpu sse avx avx2 fma", False),                       # AVX2 only (AMD EPYC Zen 3)
    ("fpu avx2 avx512f avx512bw", False),                  # AVX-512 without bf16 (Skylake)
    ("fpu avx2 avx512f avx512_bf16", True),                # Cooper Lake, Zen 4
    ("fpu avx2 avx512f amx_bf16 amx_tile amx_int8", True),  # Sapphire Rapids
])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: some cpu\nflags\t\t: {flags}\n")
    assert native_bf16(cpuinfo) is native
    assert native_bf16(tmp_path / "missing") is False  # not Linux: fp32, never emulated bf16


@pytest.mark.parametrize("native, precision", [(True, "bf16-mixed"), (False, "32-true")])
def test_the_preset_trains_in_bf16_only_where_the_cpu_has_it(tmp_path, monkeypatch, native,
                                                             precision):
    monkeypatch.setattr("ipguard.app.runtime.native_bf16", lambda: native)
    cfg = compose_cfg("train", ["cpu=cifar100"], tmp_path)
    assert cfg.trainer.precision == precision and cfg.trainer.channels_last


def test_emulated_bf16_is_warned_about(monkeypatch, caplog):
    monkeypatch.setattr("train.fit.native_bf16", lambda: False)
    with caplog.at_level("WARNING", logger="train.fit"):
        assert warn_emulated_bf16({"accelerator": "cpu", "precision": "bf16-mixed"})
    assert "trainer=cpu" in caplog.text
    assert not warn_emulated_bf16({"accelerator": "cpu", "precision": "32-true"})
    assert not warn_emulated_bf16({"accelerator": "gpu", "precision": "bf16-mixed"})
    monkeypatch.setattr("train.fit.native_bf16", lambda: True)
    assert not warn_emulated_bf16({"accelerator": "cpu", "precision": "bf16-mixed"})
