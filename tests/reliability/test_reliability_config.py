"""Config validation (docs/reliability.md, section 1): each bad value gives one line naming
the field, the bad value and the valid choices, before any data, model, zoo or W&B run is
touched. Types and choices are checked while Hydra composes (the schemas), ranges when the
config becomes typed (``__post_init__``), the rest by ipguard.app.checks / ipguard.utils.targets."""

from __future__ import annotations

import json

import pytest
import torch

from ipguard.app.bench import check_bench, run_bench
from ipguard.app.best import with_best_setting
from ipguard.app.config import CONF_DIR, typed
from ipguard.app.schema import BenchConfig
from ipguard.utils.errors import ConfigError, IPGuardError
from train.schema import TrainConfig

from conftest import compose_cfg

METHODS = sorted(p.stem for p in (CONF_DIR / "method").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml"))


def _one_line(exc: pytest.ExceptionInfo, *parts: str) -> None:
    text = str(exc.value)
    assert "\n" not in text, text
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"


def _check_bench(tmp_path, overrides: list[str]) -> None:
    check_bench(typed(compose_cfg("bench", overrides, tmp_path), BenchConfig))


def _check_train(tmp_path, overrides: list[str]) -> None:
    from train.zoo import check_train

    check_train(typed(compose_cfg("train", overrides, tmp_path), TrainConfig))


BENCH = [  # override, field named, bad value shown, valid choices shown
    ("method.k=-3", "method.k", "-3", ">= 0"),
    ("method.k=abc", "method.k", "'abc'", "number"),
    ("method=fgsm method.eps=0", "method.eps", "0", "(0, 1]"),
    ("method=fgsm method.eps=1.5", "method.eps", "1.5", "(0, 1]"),
    ("method=igsm method.eps=-0.1", "method.eps", "-0.1", "(0, 1]"),
    ("method=cw_l2 method.k=-1", "method.k", "-1", ">= 0"),
    ("method.lr=0", "method.lr", "0", "> 0"),
    ("method.max_iter=0", "method.max_iter", "0", ">= 1"),
    ("n=0", "n", "0", ">= 1"),
    ("n=-5", "n", "-5", ">= 1"),
    ("n=2.5", "n", "2.5", "integer"),
    ("n=abc", "n", "'abc'", "integer"),
    ("metrics.r=0", "metrics.r", "0", ">= 1"),
    ("threshold=1.5", "threshold", "1.5", "[0, 1]"),
    ("threshold=-0.1", "threshold", "-0.1", "[0, 1]"),
    ("init=foo", "init", "'foo'", "['random', 'train']"),
    ("label=foo", "label", "'foo'", "['least_likely', 'random']"),
    ("suspects.max_wp_p=2", "suspects.max_wp_p", "2", "[0, 1]"),
    ("seed=-1", "seed", "-1", ">= 0"),
    ("store.sweep=a/b", "store.sweep", "'a/b'", "plain folder name"),
    ("store.best_from=[.x]", "store.best_from[0]", "'.x'", "plain folder name"),
    ("device=tpu", "device", "'tpu'", "cpu, cuda"),
    ("threads=0", "threads", "0", ">= 1"),
    ("force=maybe", "force", "'maybe'", "true or false"),
    ("logger=wandb logger.mode=sometimes", "logger.mode", "'sometimes'",
     "['disabled', 'offline', 'online']"),
    ("logger.init_timeout=0", "logger.init_timeout", "0", "> 0"),
    ("method._target_=ipguard.core.methods.Nope", "method._target_", "Nope", "IPGuard"),
    ("method._target_=os.system", "method._target_", "os.system", "ipguard.core.methods."),
    ("dataset.input_shape=[1,8]", "dataset.input_shape", "[1, 8]", "[channels, height, width]"),
]


@pytest.mark.parametrize("override, field, value, valid", BENCH)
def test_bad_bench_value_is_one_line_naming_field_value_and_choices(tmp_path, override, field,
                                                                    value, valid):
    with pytest.raises(ConfigError) as exc:
        _check_bench(tmp_path, override.split())
    _one_line(exc, f"invalid {field}=", value, valid)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_refused_before_work(tmp_path):
    with pytest.raises(ConfigError) as exc:
        _check_bench(tmp_path, ["device=cuda"])
    _one_line(exc, "device='cuda'", "no CUDA device", "device=cpu")


def test_bad_paths_are_named(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError) as exc:
        _check_bench(tmp_path, [f"zoo_dir={a_file}"])
    _one_line(exc, "zoo_dir=", str(a_file), "must be a folder")
    with pytest.raises(ConfigError) as exc:
        _check_bench(tmp_path, [f"paths.results_dir={a_file}/results"])
    _one_line(exc, "store.dir=", "is a file, not a folder")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_every_shipped_bench_config_passes(tmp_path, method, dataset):
    """No false alarms: every method and dataset config in conf/ is valid together (ImageNet
    with no folder given as well)."""
    _check_bench(tmp_path, [f"method={method}", f"dataset={dataset}"])


@pytest.mark.parametrize("override, message", [
    ("device=tpu", "invalid device='tpu'"),
    ("seed=-1", "invalid seed=-1"),
    ("threads=0", "invalid threads=0"),
    ("method.k=-3", "invalid method.k=-3"),
    ("+method.foo=1", "unknown setting 'method.foo'"),   # typed: tests/config/test_method_config.py
])
def test_run_bench_refuses_before_wandb_data_or_zoo(tmp_path, override, message):
    """No zoo exists under tmp_path: a ConfigError (not MissingZooError) proves the check
    comes first, and no W&B run folder or results proves it comes before the tracker."""
    cfg = compose_cfg("bench", ["n=5", *override.split()], tmp_path)
    with pytest.raises(IPGuardError) as exc:
        run_bench(cfg)
    assert str(exc.value).startswith(message)
    assert not (tmp_path / "out" / "wandb").exists() and not (tmp_path / "results").exists()
    assert not list(tmp_path.rglob("*.safetensors"))


def test_wandb_init_timeout_reaches_the_tracker(tmp_path, monkeypatch):
    import ipguard.app.bench as bench

    seen = {}

    class Spy:
        def __init__(self, **kwargs):
            seen.update(kwargs)
            raise RuntimeError("stop here")

    monkeypatch.setattr(bench, "Tracker", Spy)
    cfg = compose_cfg("bench", ["logger=wandb", "logger.init_timeout=7", "n=5"], tmp_path)
    with pytest.raises(RuntimeError, match="stop here"):
        bench.run_bench(cfg)
    assert seen["init_timeout"] == 7.0


def _stored_best(tmp_path, params: dict) -> None:
    """A record in results/digits/fig6 naming ``params`` as IPGuard's best setting (as a
    results folder received from someone else might)."""
    folder = tmp_path / "results" / "digits" / "fig6"
    folder.mkdir(parents=True)
    (folder / "ipguard-TL-k=3-s0.json").write_text(json.dumps({
        "schema": "ipguard.results/1", "key": "ipguard-TL-k=3-s0", "dataset": "digits",
        "method": "ipguard", "params": params, "init": "train", "label": "least_likely",
        "seed": 0, "aruc": 0.9, "metrics": {}, "suspects": [], "extraction": {}}))


def test_a_stored_best_setting_is_validated_too(tmp_path):
    _stored_best(tmp_path, {"k": -5.0, "lr": 0.001, "max_iter": 1000})
    cfg = compose_cfg("bench", ["n=5", "logger=none", "store.best_from=[fig6]"], tmp_path)
    with pytest.raises(ConfigError, match=r"invalid method\.k=-5\.0"):
        run_bench(cfg)


def test_a_stored_best_setting_cannot_replace_the_method_class(tmp_path):
    _stored_best(tmp_path, {"_target_": "os.system", "k": 2.0})
    cfg = compose_cfg("bench", ["store.best_from=[fig6]"], tmp_path)
    best = with_best_setting(typed(cfg, BenchConfig))
    assert best.method.spec()["_target_"] == "ipguard.core.methods.IPGuard"
    assert best.method.k == 2.0


TRAIN = [
    ("zoo.negatives.same_arch.count=-1", "zoo.negatives.same_arch.count", "-1", ">= 0"),
    ("zoo.negatives.forest.count=-2", "zoo.negatives.forest.count", "-2", ">= 0"),
    ("zoo.negatives.archs.vgg.count=1.5", "zoo.negatives.archs.vgg.count", "1.5", "integer"),
    ("zoo.target.recipe.epochs=0", "zoo.target.recipe.epochs", "0", "at least 1 epoch"),
    ("zoo.target.recipe.lr=-1", "zoo.target.recipe.lr", "-1", "> 0"),
    ("zoo.target.recipe.optimizer=rmsprop", "zoo.target.recipe.optimizer", "'rmsprop'",
     "['adam', 'sgd']"),
    ("zoo.positives.finetune.rtal.schedule=step", "zoo.positives.finetune.rtal.schedule",
     "'step'", "['constant', 'cosine']"),
    ("zoo.positives.wp.step=1.5", "zoo.positives.wp.step", "1.5", "(0, 1)"),
    ("zoo.positives.fp.largest=0", "zoo.positives.fp.largest", "0", "(0, 1)"),
    ("zoo.positives.max_accuracy_loss=3", "zoo.positives.max_accuracy_loss", "3", "[0, 1]"),
    ("zoo.target.model._target_=ipguard.models.digits.resnet999", "zoo.target.model._target_",
     "resnet999", "['lenet5', 'small_cnn', 'vgg_small']"),
    ("zoo.target.model._target_=os.system", "zoo.target.model._target_", "os.system",
     "ipguard.models."),
    ("+zoo.target.model.depth=3", "zoo.target.model", "depth", "takes"),
    ("member=foo", "member", "'foo'", "'same_arch'"),
    ("seed=-2", "seed", "-2", ">= 0"),
    ("checkpoint_every_n_epochs=-1", "checkpoint_every_n_epochs", "-1", ">= 1"),
    ("checkpoint_min_seconds=-1", "checkpoint_min_seconds", "-1", ">= 0"),
    ("group_size=0", "group_size", "0", ">= 1"),
    ("device=gpu", "device", "'gpu'", "cpu, cuda"),
]


@pytest.mark.parametrize("override, field, value, valid", TRAIN)
def test_bad_zoo_value_is_one_line_before_any_training(tmp_path, override, field, value, valid):
    from train.zoo import build_zoo

    with pytest.raises(ConfigError) as exc:
        _check_train(tmp_path, [override])
    _one_line(exc, f"invalid {field}=", value, valid)
    with pytest.raises(ConfigError):  # the entry point's own path refuses it as well
        build_zoo(compose_cfg("train", [override], tmp_path))
    assert not (tmp_path / "zoo").exists()  # nothing trained, nothing written


def test_unknown_torchvision_architecture_is_refused_without_downloading(tmp_path):
    with pytest.raises(ConfigError) as exc:
        _check_train(tmp_path, ["dataset=imagenet", "zoo.target.model.arch=resnet51"])
    _one_line(exc, "zoo.target.model.arch='resnet51'", "list_models")


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_shipped_zoo_config_passes(tmp_path, dataset):
    _check_train(tmp_path, [f"dataset={dataset}"])


def test_config_error_is_an_ipguard_error_and_a_value_error():
    err = ConfigError("n", 0, "must be >= 1")
    assert isinstance(err, IPGuardError) and isinstance(err, ValueError)
    assert str(err) == "invalid n=0: must be >= 1"
