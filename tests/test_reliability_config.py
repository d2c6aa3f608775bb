"""Config validation (issue 7, item 1): each bad value gives one line naming the field, the bad
value and the valid choices, before any data, model, zoo or W&B run is touched."""

from __future__ import annotations

import pytest
import torch

from ipguard.errors import ConfigError, IPGuardError
from ipguard.validation import check_bench_config, check_train_config
from train.build import SELECTIONS

from conftest import compose_cfg


def _one_line(exc: pytest.ExceptionInfo, *parts: str) -> None:
    text = str(exc.value)
    assert "\n" not in text, text
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"


BENCH = [  # override, field named, bad value shown, valid choices shown
    ("method.k=-3", "method.k", "-3", ">= 0"),
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
    ("device=tpu", "device", "'tpu'", "cpu, cuda"),
    ("threads=0", "threads", "0", ">= 1"),
    ("logger=wandb logger.mode=sometimes", "logger.mode", "'sometimes'",
     "['online', 'offline', 'disabled']"),
    ("method._target_=ipguard.methods.Nope", "method._target_", "Nope", "IPGuard"),
    ("method._target_=os.system", "method._target_", "os.system", "ipguard.methods."),
    ("+method.foo=1", "method", "foo", "takes"),
]


@pytest.mark.parametrize("override, field, value, valid", BENCH)
def test_bad_bench_value_is_one_line_naming_field_value_and_choices(tmp_path, override, field,
                                                                    value, valid):
    cfg = compose_cfg("bench", override.split(), tmp_path)
    with pytest.raises(ConfigError) as exc:
        check_bench_config(cfg)
    _one_line(exc, f"invalid {field}=", value, valid)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_refused_before_work(tmp_path):
    with pytest.raises(ConfigError) as exc:
        check_bench_config(compose_cfg("bench", ["device=cuda"], tmp_path))
    _one_line(exc, "device='cuda'", "no CUDA device", "device=cpu")


def test_bad_paths_are_named(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cfg = compose_cfg("bench", [f"zoo_dir={a_file}"], tmp_path)
    with pytest.raises(ConfigError) as exc:
        check_bench_config(cfg)
    _one_line(exc, "zoo_dir=", str(a_file), "must be a folder")
    cfg = compose_cfg("bench", [f"paths.results_dir={a_file}/results"], tmp_path)
    with pytest.raises(ConfigError) as exc:
        check_bench_config(cfg)
    _one_line(exc, "store.dir=", "is a file, not a folder")


def test_every_shipped_bench_config_passes(tmp_path):
    """No false alarms: every method and dataset config the suite ships is valid."""
    for method in ("ipguard", "fgsm", "igsm", "cw_l2", "random"):
        for dataset in ("digits", "cifar10", "cifar100", "fashion_mnist"):
            check_bench_config(compose_cfg("bench", [f"method={method}",
                                                     f"dataset={dataset}"], tmp_path))
    check_bench_config(compose_cfg("bench", ["dataset=imagenet", "init=random"], tmp_path))
    check_bench_config(compose_cfg("bench", ["dataset=imagenet"], tmp_path))  # no folder given


def test_bench_checks_before_touching_the_zoo(tmp_path):
    """run_bench refuses a bad value before it looks for the zoo (which is missing here) or
    extracts anything."""
    from ipguard.bench import run_bench

    cfg = compose_cfg("bench", ["method.k=-3", "logger=none"], tmp_path)
    with pytest.raises(Exception) as exc:  # noqa: B017 - Hydra may wrap it; see below
        run_bench(cfg)
    err: BaseException | None = exc.value  # what friendly_errors prints: the ConfigError
    while err is not None and not isinstance(err, ConfigError):
        err = err.__cause__ or err.__context__
    assert err is not None and str(err).startswith("invalid method.k=-3")
    assert not list(tmp_path.rglob("*.safetensors")) and not (tmp_path / "results").exists()


TRAIN = [
    ("zoo.negatives.same_arch.count=-1", "zoo.negatives.same_arch.count", "-1", ">= 0"),
    ("zoo.negatives.forest.count=-2", "zoo.negatives.forest.count", "-2", ">= 0"),
    ("zoo.negatives.archs.vgg.count=1.5", "zoo.negatives.archs.vgg.count", "1.5", "integer"),
    ("zoo.target.recipe.epochs=0", "zoo.target.recipe.epochs", "0", "at least 1 epoch"),
    ("zoo.target.recipe.lr=-1", "zoo.target.recipe.lr", "-1", "> 0"),
    ("zoo.target.recipe.optimizer=rmsprop", "zoo.target.recipe.optimizer", "'rmsprop'",
     "['adam', 'sgd']"),
    ("zoo.positives.finetune.rtal.schedule=step", "zoo.positives.finetune.rtal.schedule",
     "'step'", "['cosine', 'constant']"),
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
    ("device=gpu", "device", "'gpu'", "cpu, cuda"),
]


@pytest.mark.parametrize("override, field, value, valid", TRAIN)
def test_bad_zoo_value_is_one_line_before_any_training(tmp_path, override, field, value, valid):
    from train.zoo import build_zoo

    cfg = compose_cfg("train", [override], tmp_path)
    with pytest.raises(ConfigError) as exc:
        check_train_config(cfg, SELECTIONS)
    _one_line(exc, f"invalid {field}=", value, valid)
    with pytest.raises(ConfigError):
        build_zoo(cfg)
    assert not (tmp_path / "zoo").exists()  # nothing trained, nothing written


def test_unknown_torchvision_architecture_is_refused_without_downloading(tmp_path):
    cfg = compose_cfg("train", ["dataset=imagenet", "zoo.target.model.arch=resnet51"], tmp_path)
    with pytest.raises(ConfigError) as exc:
        check_train_config(cfg, SELECTIONS)
    _one_line(exc, "zoo.target.model.arch='resnet51'", "list_models")


def test_every_shipped_zoo_config_passes(tmp_path):
    for dataset in ("digits", "cifar10", "cifar100", "fashion_mnist", "imagenet"):
        check_train_config(compose_cfg("train", [f"dataset={dataset}"], tmp_path), SELECTIONS)


def test_config_error_is_an_ipguard_error_and_a_value_error():
    err = ConfigError("n", 0, "must be >= 1")
    assert isinstance(err, IPGuardError) and isinstance(err, ValueError)
    assert str(err) == "invalid n=0: must be >= 1"
