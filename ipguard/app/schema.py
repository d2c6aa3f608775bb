"""The config schema of the bench, and the parts every entry point shares: dataclasses that
Hydra's ConfigStore holds and the YAML files in ``conf/`` extend.

Types and choices are checked while Hydra composes the config; ranges in ``__post_init__``
when ``ipguard.app.config.typed`` turns the composed config into these objects, which is the first
thing each entry point does. A ``ConfigError`` raised here names the field relative to its
dataclass; ``typed`` adds the path (``zoo.target.recipe.epochs``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, get_type_hints

from omegaconf import MISSING

from ipguard.app.scheme_config import SchemeConfig
from ipguard.core.extract import PAPER_N
from ipguard.core.methods import METHODS, Method
from ipguard.core.metrics import PAPER_R
from ipguard.paper.config import FigureSpec, Grid, TablesConfig
from ipguard.utils import targets
from ipguard.utils.errors import ConfigError
from ipguard.zoo.suspects import Selection


class Init(StrEnum):
    """The initial point (Table 3): T, a training example; R, uniform in [0, 1]^d."""

    train = "train"
    random = "random"


class Label(StrEnum):
    """The target label (Table 3): R, random; L, least likely."""

    random = "random"
    least_likely = "least_likely"


class WandbMode(StrEnum):
    online = "online"
    offline = "offline"
    disabled = "disabled"


def at_least(name: str, value: float | None, low: float, why: str) -> None:
    if value is not None and value < low:
        raise ConfigError(name, value, why)


def within(name: str, value: float, low: float, high: float, why: str) -> None:
    if not low <= value <= high:
        raise ConfigError(name, value, why)


def plain_folder_name(name: str, value: str) -> None:
    """A sweep's folder under the store: no separators, not hidden."""
    if not value or "/" in value or value.startswith(".") or value != value.strip():
        raise ConfigError(name, value, "a plain folder name such as fig6 or adhoc")


@dataclass
class PathsConfig:
    """Where things live (conf/paths/default.yaml); IPGUARD_ROOT moves them all."""

    root_dir: str = MISSING
    data_dir: str = MISSING
    zoo_dir: str = MISSING
    results_dir: str = MISSING
    output_dir: str = MISSING
    log_dir: str = MISSING


@dataclass
class DatasetConfig:
    """A dataset's facts (conf/dataset/<name>.yaml) and its loader (``_target_`` in
    ``ipguard.data``)."""

    name: str = MISSING
    num_classes: int = MISSING
    input_shape: list[int] = MISSING   # [channels, height, width]
    train_size: int = 0                # training images (memory estimate for init=train)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    # the loader fetches the data itself when loader.root is null (torchvision's download);
    # false (ImageNet): only a folder you give has images, so without one there are none
    downloadable: bool = True
    loader: Any = MISSING

    def __post_init__(self) -> None:
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise ConfigError("input_shape", list(self.input_shape),
                              "[channels, height, width], each >= 1")
        at_least("num_classes", self.num_classes, 2, "a classifier needs >= 2 classes")
        at_least("train_size", self.train_size, 0, "a number of images, >= 0")


@dataclass
class LoggerConfig:
    """The W&B mirror (conf/logger/): one run per job, offline unless WANDB_MODE says so."""

    enabled: bool = True
    project: str = "ipguard"
    entity: str | None = None
    mode: WandbMode = WandbMode.offline
    dir: str | None = None
    name: str | None = None
    group: str | None = None
    log_fingerprint: bool = False
    init_timeout: float = 30.0   # seconds W&B may take to start

    def __post_init__(self) -> None:
        if self.init_timeout <= 0:
            raise ConfigError("init_timeout", self.init_timeout,
                              "seconds W&B may take to start, > 0")


@dataclass
class MetricsConfig:
    r: int = PAPER_R   # intervals in Eq. 7

    def __post_init__(self) -> None:
        at_least("r", self.r, 1, "ARUC's number of intervals r must be an integer >= 1")


class ChooseOn(StrEnum):
    """Which suspects a best setting is chosen on."""

    all = "all"                  # every suspect of the zoo: the paper's protocol
    validation = "validation"    # the validation half (ipguard.results.holdout)


@dataclass
class StoreConfig:
    """The results store: ``<dir>/<key>.json``, one record per setting (ipguard.results.store)."""

    sweep: str = "adhoc"          # the sweep this run belongs to (sweep=<name> sets it)
    root: str = MISSING
    dir: str = MISSING
    best_from: list[str] = field(default_factory=list)  # sweeps to take the best setting from
    # with best_from: keep this job's combo (init, label) and take the best parameters among
    # that combo's records (the seeds sweep: every method x combo at its own best setting)
    best_per_combo: bool = False
    # with best_from, what the best setting is chosen by: the ARUC on every suspect (all: the
    # paper's protocol, Tables 4-8) or on the validation half of the zoo's suspects only
    # (validation: the seeds sweep, which then reports the test half; ipguard.results.holdout)
    choose_on: ChooseOn = ChooseOn.all

    def __post_init__(self) -> None:
        plain_folder_name("sweep", self.sweep)
        for i, name in enumerate(self.best_from):
            plain_folder_name(f"best_from[{i}]", name)


@dataclass
class BenchConfig:
    """``python -m ipguard.bench``: extract a fingerprint from the zoo's target, verify every
    suspect, score (conf/bench.yaml)."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    dataset: DatasetConfig = MISSING
    method: MethodConfig = MISSING   # conf/method/<name>.yaml: one of METHOD_SCHEMAS
    # scheme=<name> (conf/scheme/, SCHEME_SCHEMAS): a field scheme, run instead of the method
    scheme: SchemeConfig | None = None
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    init: Init = Init.train
    label: Label = Label.least_likely
    n: int = PAPER_N                   # fingerprinting points
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None         # CPU threads (null: SLURM_CPUS_PER_TASK or all)
    threshold: float = 0.5             # Verify's matching-rate threshold (ARUC sweeps all)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    # which pruned models count as positives in the headline ARUC: null caps, every level the
    # 3 % rule admits (the paper's protocol); a cap is a deviation, labelled in every output
    suspects: Selection = field(default_factory=Selection)
    zoo_dir: str = MISSING
    # zoo_dir is a population (python -m train.zoo population=<dataset>): every target is
    # fingerprinted and verified on its positives and the shared negatives (sweep=population)
    zoo_is_population: bool = False
    force: bool = False                # recompute a point whose record is in the store
    store: StoreConfig = field(default_factory=StoreConfig)

    def __post_init__(self) -> None:
        at_least("n", self.n, 1,
                 "the number of fingerprinting points must be an integer >= 1")
        at_least("seed", self.seed, 0, "a seed is an integer >= 0")
        within("threshold", self.threshold, 0.0, 1.0, "a matching-rate threshold lies in [0, 1]")
        at_least("threads", self.threads, 1,
                 "null (SLURM_CPUS_PER_TASK or all) or an integer >= 1")


# --------------------------------------------------------------------------- methods
@dataclass
class MethodConfig:
    """What every method config has: the class it builds. Each method's own schema
    (``METHOD_SCHEMAS``, made from the method class) adds its hyper-parameters; Hydra keeps the
    composed node of that schema, and ``typed`` builds the one its ``_target_`` names
    (``variant``), so a misspelt or mistyped method field is refused like any other."""

    _target_: str = MISSING

    @classmethod
    def variant(cls, data: Mapping[str, Any]) -> type[MethodConfig]:
        """The schema of the method ``data`` names by its ``_target_``; a name outside the
        suite's methods is refused with what is allowed."""
        target = str(data.get("_target_"))
        schema = _BY_TARGET.get(target)
        if schema is None:  # refused with the list of allowed names, or as no method at all
            targets.resolve_target("_target_", target, targets.METHODS, "method")
            raise ConfigError("_target_", target, f"one of {sorted(_BY_TARGET)}")
        return schema

    def spec(self) -> dict[str, Any]:
        """``{_target_: ..., **hyper-parameters}``, as ``ipguard.utils.targets`` builds it."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def build(self) -> Method:
        """The method, its class checked against the allow-list and its values by the method
        itself (k < 0, eps outside (0, 1], ... are one-line ConfigErrors)."""
        return targets.build_method(self.spec())


def method_schema(cls: type[Method]) -> type[MethodConfig]:
    """A config schema for a method class, made from its own dataclass fields (so types and
    defaults are written once, in the method): ``_target_`` plus every hyper-parameter, tuples
    as lists."""
    fields = [("_target_", str, field(default=method_target(cls)))]
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if isinstance(default, tuple):
            kind, value = list[float], list(default)
            fields.append((f.name, kind, field(default_factory=lambda v=value: list(v))))
        else:
            fields.append((f.name, kind, field(default=default)))
    return dataclasses.make_dataclass(f"{cls.__name__}Config", fields, bases=(MethodConfig,))


def method_target(cls: type[Method]) -> str:
    """The ``_target_`` a config names the method by (its public name in the package)."""
    return f"ipguard.core.methods.{cls.__name__}"


METHOD_SCHEMAS = {name: method_schema(cls) for name, cls in METHODS.items()}
_BY_TARGET = {method_target(METHODS[name]): schema for name, schema in METHOD_SCHEMAS.items()}


class Source(StrEnum):
    local = "local"                   # the results store
    wandb = "wandb"                   # W&B runs through the public API (after `wandb sync`)


@dataclass
class FiguresConfig:
    """``python -m ipguard.figures`` (conf/figures.yaml): which results, which panels, where."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    dataset: DatasetConfig = MISSING
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    datasets: list[str] = field(default_factory=list)   # the panels (and table columns)
    source: Source = Source.local
    results_dir: str = MISSING
    zoo_dir: str = MISSING
    out_dir: str = MISSING
    wandb_path: str | None = None     # entity/project for source=wandb
    grid: Grid = Grid.sweep
    suspects: Selection = field(default_factory=Selection)  # the headline selection (Table 1)
    # Figures 3-6: when composed, read from the sweep files (ipguard.app.sweeps)
    figures: dict[str, FigureSpec] = field(default_factory=dict)
    tables: TablesConfig = field(default_factory=TablesConfig)
    # 95 % intervals in Figures 3-6 (bands), Tables 4 and 5-7 (docs/verdicts.md);
    # false: every table exactly as before them
    intervals: bool = True

    def __post_init__(self) -> None:
        if not self.datasets:
            raise ConfigError("datasets", [], "name at least one dataset, e.g. dataset=digits")
