"""Config checks that run before any training or extraction starts.

Each check raises :class:`~ipguard.errors.ConfigError` (one line: the field, the bad value and
the valid choices) or :class:`~ipguard.errors.IPGuardError` (a resource the run would lack).
Hydra itself rejects unknown config-group options (``method=foo``, ``dataset=foo``) while it
composes the config, listing the options it has; these checks cover the values inside the
groups. Method hyper-parameters are checked by the methods' own constructors (k < 0, eps
outside (0, 1], ...), which :func:`check_method` calls."""

from __future__ import annotations

import importlib
import inspect
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ipguard.errors import ConfigError, IPGuardError
from ipguard.runtime import check_memory, extraction_bytes, format_bytes, images_bytes

METHOD_PREFIX = "ipguard.methods."
DATA_PREFIX = "ipguard.data."
MODEL_PREFIXES = ("ipguard.models.", "torchvision.models.")
MODEL_MODULES = ("ipguard.models.digits", "ipguard.models.cifar", "ipguard.models.imagenet")
WANDB_MODES = ("online", "offline", "disabled")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "constant")
# Training-set sizes of the datasets the suite ships configs for (an early memory estimate for
# init=train, which stacks the training set before extraction; unknown datasets are skipped).
TRAIN_SIZES = {"digits": 1437, "fashion_mnist": 60000, "cifar10": 50000, "cifar100": 50000,
               "imagenet": 1281167}


# --------------------------------------------------------------------------- scalars
def require_int(field: str, value: Any, minimum: int | None = None, why: str = "") -> int:
    """``value`` as an int (bools and fractional numbers refused), >= ``minimum`` if given."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, float) and value.is_integer():
        ok, value = True, int(value)
    if not ok:
        raise ConfigError(field, value, why or "must be an integer"
                          + (f" >= {minimum}" if minimum is not None else ""))
    if minimum is not None and value < minimum:
        raise ConfigError(field, value, why or f"must be an integer >= {minimum}")
    return int(value)


def require_number(field: str, value: Any, low: float | None = None, high: float | None = None,
                   low_open: bool = False, why: str = "") -> float:
    """``value`` as a finite float within [low, high] (or (low, high] with ``low_open``)."""
    text = _interval(low, high, low_open)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(field, value, why or f"must be a number{text}")
    v = float(value)
    if (low is not None and (v < low or (low_open and v == low))) or \
            (high is not None and v > high):
        raise ConfigError(field, value, why or f"must lie in{text}")
    return v


def _interval(low: float | None, high: float | None, low_open: bool) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f" <= {high:g}"
    return f" {'(' if low_open else '['}{low:g}, {high:g}]"


def require_choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(field, value, f"choose one of {list(choices)}")
    return str(value)


def check_device(device: Any, field: str = "device") -> str:
    """cpu, cuda, cuda:N or mps, and only a device this machine has."""
    import torch

    text = str(device)
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and not index.isdigit()) or \
            (kind == "cpu" and index):
        raise ConfigError(field, device, "choose cpu, cuda, cuda:<index> or mps")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(field, device, "no CUDA device is visible here: use device=cpu "
                              "(and trainer=cpu for train.zoo)")
        if index and int(index) >= torch.cuda.device_count():
            raise ConfigError(field, device, f"this machine has {torch.cuda.device_count()} "
                              "CUDA device(s): cuda:0 ..")
    if kind == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise ConfigError(field, device, "MPS is not available here: use device=cpu")
    return text


def check_threads(threads: Any, field: str = "threads") -> None:
    if threads is not None:
        require_int(field, threads, 1, "null (SLURM_CPUS_PER_TASK or all) or an integer >= 1")


def check_folder_name(field: str, value: Any) -> str:
    text = str(value)
    if not text or "/" in text or text.startswith(".") or text != text.strip():
        raise ConfigError(field, value, "a plain folder name such as fig6 or adhoc")
    return text


def check_path(field: str, value: Any, writable: bool = True) -> Path:
    """A folder the run will create or read: not an existing file, below a folder it may
    write into (the nearest existing ancestor)."""
    if value is None or str(value).strip() == "":
        raise ConfigError(field, value, "a folder path")
    path = Path(str(value)).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(field, str(path), "must be a folder, but a file has that name")
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(field, str(path), f"{parent} is a file, not a folder")
    if writable and not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(field, str(path), f"{parent} is not writable: choose a folder you "
                          "may write to (paths.root_dir=... or IPGUARD_ROOT=...)")
    return path


# --------------------------------------------------------------------------- targets
def resolve_target(field: str, target: Any, prefixes: tuple[str, ...], kind: str) -> Any:
    """The callable a ``_target_`` names, restricted to ``prefixes``: it must be public and
    defined in one of those packages (a name they merely import, ``save_file`` say, is
    refused, and so is a torchvision name that is not a model builder). An unknown name
    lists what the module offers."""
    text = str(target)
    module_name, _, attr = text.rpartition(".")
    if not text.startswith(prefixes) or any(not part or part.startswith("_")
                                            for part in text.split(".")):
        raise ConfigError(field, text, f"{_article(kind)} {kind} from {list(prefixes)} "
                          "(public names only)")
    try:
        module = importlib.import_module(module_name)
    except (ImportError, ValueError) as exc:
        raise ConfigError(field, text, f"no module {module_name} ({exc})") from exc
    fn = getattr(module, attr, None)
    defined = str(getattr(fn, "__module__", "") or "")
    if fn is None or inspect.ismodule(fn) or not callable(fn) or \
            not defined.startswith(prefixes):
        offered = _public_callables(module)
        raise ConfigError(field, text, f"{module_name} has no {kind} {attr!r}"
                          + (f"; it offers {offered}" if offered else ""))
    if module_name == "torchvision.models":
        import torchvision.models as tvm

        if attr not in tvm.list_models(module=tvm):
            raise ConfigError(field, text, "a torchvision model builder "
                              "(torchvision.models.list_models())")
    return fn


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _public_callables(module: Any) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and (inspect.isfunction(v) or inspect.isclass(v))
                 and getattr(v, "__module__", None) == module.__name__]
    return sorted(n for n in names if n[:1].isalpha())


def check_call(field: str, fn: Any, kwargs: Mapping[str, Any]) -> None:
    """The arguments fit ``fn``'s signature (an unknown or missing argument, named)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(**kwargs)
    except TypeError as exc:
        params = [p for p in sig.parameters if p not in ("self", "args", "kwargs")]
        raise ConfigError(field, dict(kwargs), f"{exc}; {getattr(fn, '__name__', fn)} takes "
                          f"{params}") from exc


def check_method(method_cfg: Any, field: str = "method") -> Any:
    """Build the method from its config: an allowed class, known arguments, and values its
    constructor accepts (the methods raise ConfigError for k < 0, eps outside (0, 1], ...)."""
    spec = _plain(method_cfg)
    if not isinstance(spec, Mapping) or "_target_" not in spec:
        raise ConfigError(field, spec, "a method config with _target_ (method=ipguard, fgsm, "
                          "igsm, cw_l2, random)")
    cls = resolve_target(f"{field}._target_", spec["_target_"], (METHOD_PREFIX,), "method")
    kwargs = {k: v for k, v in spec.items() if k != "_target_"}
    check_call(field, cls, kwargs)
    return cls(**kwargs)


def check_model_spec(field: str, spec: Any) -> None:
    """A model constructor from an allowed package, with arguments it takes; torchvision
    architectures are looked up by name (without building or downloading anything)."""
    spec = _plain(spec)
    if not isinstance(spec, Mapping) or "_target_" not in spec:
        raise ConfigError(field, spec, "a model config with _target_ (model=small_cnn, ...)")
    fn = resolve_target(f"{field}._target_", spec["_target_"], MODEL_PREFIXES, "architecture")
    kwargs = {k: v for k, v in spec.items() if k != "_target_"}
    check_call(field, fn, kwargs)
    if str(spec["_target_"]).endswith("imagenet.torchvision_classifier"):
        import torchvision.models as tvm

        arch = kwargs.get("arch")
        if arch not in tvm.list_models(module=tvm):
            raise ConfigError(f"{field}.arch", arch, "a torchvision classification model, e.g. "
                              "resnet50, vgg16, inception_v3 (torchvision.models.list_models())")


def _plain(node: Any) -> Any:
    if isinstance(node, DictConfig):
        return OmegaConf.to_container(node, resolve=True)
    return node


# --------------------------------------------------------------------------- datasets
def check_dataset(dataset: Any, field: str = "dataset") -> None:
    d = _plain(dataset)
    if not isinstance(d, Mapping):
        raise ConfigError(field, d, "a dataset config (dataset=digits, cifar10, ...)")
    shape = d.get("input_shape")
    if not isinstance(shape, list | tuple) or len(shape) != 3 or \
            not all(isinstance(s, int) and s >= 1 for s in shape):
        raise ConfigError(f"{field}.input_shape", shape, "[channels, height, width], each >= 1")
    require_int(f"{field}.num_classes", d.get("num_classes"), 2)
    loader = d.get("loader")
    if not isinstance(loader, Mapping) or "_target_" not in loader:
        raise ConfigError(f"{field}.loader", loader, "a loader with _target_")
    fn = resolve_target(f"{field}.loader._target_", loader["_target_"], (DATA_PREFIX,),
                        "dataset loader")
    check_call(f"{field}.loader", fn, {k: v for k, v in loader.items() if k != "_target_"})


# --------------------------------------------------------------------------- entry points
def check_bench_config(cfg: DictConfig, available: int | None = None) -> None:
    """Everything ``python -m ipguard.bench`` needs, before any data, model or W&B run."""
    from ipguard.seeding import combo_suffix

    combo_suffix(cfg.init, cfg.label)
    require_int("n", cfg.n, 1, "the number of fingerprinting points must be an integer >= 1")
    require_int("seed", cfg.seed, 0, "a seed is an integer >= 0")
    require_int("metrics.r", cfg.metrics.r, 1,
                "ARUC's number of intervals r must be an integer >= 1")
    require_number("threshold", cfg.threshold, 0.0, 1.0,
                   why="a matching-rate threshold lies in [0, 1]")
    for key in ("max_wp_p", "max_fp_c"):
        require_number(f"suspects.{key}", cfg.suspects[key], 0.0, 1.0,
                       why="a pruning level lies in [0, 1]")
    if not isinstance(cfg.force, bool):
        raise ConfigError("force", cfg.force, "true or false")
    check_folder_name("store.sweep", cfg.store.sweep)
    for i, sweep in enumerate(cfg.store.best_from or []):
        check_folder_name(f"store.best_from[{i}]", sweep)
    check_device(cfg.device)
    check_threads(cfg.threads)
    check_dataset(cfg.dataset)
    check_method(cfg.method)
    check_logger(cfg.logger)
    check_path("zoo_dir", cfg.zoo_dir, writable=False)
    check_path("store.dir", cfg.store.dir)
    check_path("paths.output_dir", cfg.paths.output_dir)
    check_bench_memory(cfg, available)


def check_logger(logger: Any) -> None:
    lg = _plain(logger)
    if not lg or not lg.get("enabled", False):
        return
    require_choice("logger.mode", lg.get("mode"), WANDB_MODES)
    if lg.get("init_timeout") is not None:
        require_number("logger.init_timeout", lg["init_timeout"], 0.0, low_open=True,
                       why="seconds W&B may take to start, > 0")


def check_bench_memory(cfg: DictConfig, available: int | None = None) -> None:
    """Fail early when extraction would not fit: init=train stacks the training set as
    float32 next to the n points being optimised (verification then streams one suspect at a
    time, so the zoo's size does not count)."""
    shape = list(cfg.dataset.input_shape)
    need = extraction_bytes(int(cfg.n), shape)
    train = _train_images(cfg.dataset) if cfg.init == "train" else 0
    need += images_bytes(train, shape)
    fix = ("use fewer points (n=...)" if not train else
           f"init=train stacks {train} training images ({format_bytes(images_bytes(train, shape))}"
           "); use init=random, a subset (e.g. dataset.loader.train_per_class=10), or a "
           "machine with more memory")
    check_memory(need, f"extracting {cfg.n} points on {cfg.dataset.name}", fix, available)


def _train_images(dataset: Any) -> int:
    d = _plain(dataset)
    loader = d.get("loader") or {}
    if "root" in loader and loader["root"] is None and d.get("name") == "imagenet":
        return 0  # no folder, no training images (extraction then says init=train needs them)
    size = TRAIN_SIZES.get(str(d.get("name")), 0)
    per_class = loader.get("train_per_class")
    if per_class:
        size = min(size, int(per_class) * int(d.get("num_classes", 1)))
    return size


def check_train_config(cfg: DictConfig, selections: Sequence[str] = ()) -> None:
    """Everything ``python -m train.zoo`` needs, before the dataset loads or a member trains.
    ``selections``: the member kinds the zoo builder offers (the zoo's families are added)."""
    zoo = _plain(cfg.zoo)
    families = tuple(((zoo or {}).get("negatives") or {}).get("archs") or {})
    if selections:
        require_choice("member", cfg.member, tuple(selections) + families)
    if cfg.seed is not None:
        require_int("seed", cfg.seed, 0, "null (every seed) or one seed, an integer >= 0")
    check_device(cfg.device)
    check_threads(cfg.threads)
    check_dataset(cfg.dataset)
    check_path("zoo_dir", cfg.zoo_dir)
    if cfg.get("checkpoint_every_n_epochs") is not None:
        require_int("checkpoint_every_n_epochs", cfg.checkpoint_every_n_epochs, 0,
                    "epochs between resumable checkpoints, >= 1 (0: none)")
    check_zoo_spec(zoo)


def check_zoo_spec(zoo: Any, field: str = "zoo") -> None:
    """The zoo's counts, seeds, recipes, pruning steps and model constructors."""
    zoo = _plain(zoo)
    if not isinstance(zoo, Mapping):
        raise ConfigError(field, zoo, "a zoo config (zoo=digits, cifar10, ...)")
    for key in ("target", "positives", "negatives"):
        if not isinstance(zoo.get(key), Mapping):
            raise ConfigError(f"{field}.{key}", zoo.get(key), "a section of the zoo config")
    target = zoo["target"]
    require_int(f"{field}.target.seed", target.get("seed"), 0)
    check_model_spec(f"{field}.target.model", target.get("model"))
    check_recipe(f"{field}.target.recipe", target.get("recipe"), allow_none=True)

    pos = zoo["positives"]
    require_number(f"{field}.positives.max_accuracy_loss", pos.get("max_accuracy_loss", 0.03),
                   0.0, 1.0, why="an accuracy loss lies in [0, 1] (the paper's 3 % rule: 0.03)")
    for kind, recipe in (pos.get("finetune") or {}).items():
        check_recipe(f"{field}.positives.finetune.{kind}", recipe)
    for kind in ("wp", "fp"):
        prune = pos.get(kind)
        if prune is None:
            continue
        for key in ("step", "largest"):
            require_number(f"{field}.positives.{kind}.{key}", prune.get(key), 0.0, 1.0,
                           low_open=True, why="a pruning level lies in (0, 1)")
            if float(prune[key]) >= 1.0:
                raise ConfigError(f"{field}.positives.{kind}.{key}", prune[key],
                                  "a pruning level lies in (0, 1)")
        check_recipe(f"{field}.positives.{kind}.recipe", prune.get("recipe"))

    neg = zoo["negatives"]
    seeded = {"same_arch": neg.get("same_arch"), "forest": neg.get("forest"),
              **{f"archs.{k}": v for k, v in (neg.get("archs") or {}).items()}}
    for name, family in seeded.items():
        if family is None:
            continue
        where = f"{field}.negatives.{name}"
        require_int(f"{where}.count", family.get("count"), 0, "a member count is an integer "
                    ">= 0")
        require_int(f"{where}.first_seed", family.get("first_seed", 0), 0)
        if name.startswith("archs."):
            check_model_spec(f"{where}.model", family.get("model"))
            check_recipe(f"{where}.recipe", family.get("recipe"), allow_none=True)
        if name == "forest":
            require_int(f"{where}.n_estimators", family.get("n_estimators", 20), 1)
        if name == "same_arch" and "recipe" in family:
            check_recipe(f"{where}.recipe", family.get("recipe"), allow_none=True)


def check_recipe(field: str, recipe: Any, allow_none: bool = False) -> None:
    """epochs >= 1, lr > 0, batch size >= 1, a known optimiser and schedule."""
    if recipe is None:
        if allow_none:
            return  # a pretrained member: loaded, not trained
        raise ConfigError(field, recipe, "a training recipe {epochs, lr, ...}")
    if not isinstance(recipe, Mapping):
        raise ConfigError(field, recipe, "a training recipe {epochs, lr, ...}")
    known = {"epochs", "lr", "optimizer", "weight_decay", "batch_size", "schedule", "head_lr"}
    unknown = sorted(set(recipe) - known)
    if unknown:
        raise ConfigError(f"{field}.{unknown[0]}", recipe[unknown[0]],
                          f"not a recipe field; recipes take {sorted(known)}")
    require_int(f"{field}.epochs", recipe.get("epochs"), 1, "train for at least 1 epoch")
    require_number(f"{field}.lr", recipe.get("lr"), 0.0, low_open=True,
                   why="the learning rate must be > 0")
    if recipe.get("head_lr") is not None:
        require_number(f"{field}.head_lr", recipe["head_lr"], 0.0, low_open=True,
                       why="the learning rate must be > 0")
    require_number(f"{field}.weight_decay", recipe.get("weight_decay", 0.0), 0.0)
    require_int(f"{field}.batch_size", recipe.get("batch_size", 64), 1)
    require_choice(f"{field}.optimizer", recipe.get("optimizer", "adam"), OPTIMIZERS)
    require_choice(f"{field}.schedule", recipe.get("schedule", "cosine"), SCHEDULES)


__all__ = [
    "ConfigError", "IPGuardError", "check_bench_config", "check_train_config",
    "check_zoo_spec", "check_method", "check_model_spec", "check_dataset", "check_recipe",
    "check_device", "check_path", "check_bench_memory", "require_int", "require_number",
]
