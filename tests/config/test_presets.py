"""Presets (docs/sweeps.md, "Presets"): ``experiment=<sweep>_<dataset>`` for every paper sweep and
dataset, and ``debug=smoke``, a one-minute check on a tiny zoo that never touches the real one.
Each preset composes; each digits preset runs its smallest case (the first point of its grid)."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from ipguard.app.bench import run_bench
from ipguard.app.config import CONF_DIR, SWEEPS_DIR, experiments
from ipguard.results.store import read_records_dir
from train.zoo import build_zoo

from conftest import compose_cfg

BENCH_EXPERIMENTS = sorted(n for n in experiments() if not n.startswith("zoo_"))
ZOO_EXPERIMENTS = sorted(n for n in experiments() if n.startswith("zoo_"))


def _reads() -> dict[str, list[str]]:
    """Each bench sweep of sweeps/ and the sweeps whose records it reads (``store.best_from``:
    the table sweeps rerun each method at the best setting those found)."""
    return {p.stem: list(OmegaConf.select(OmegaConf.load(p), "store.best_from") or [])
            for p in sorted(SWEEPS_DIR.glob("*.yaml")) if p.stem != "zoo"}


def _run_order() -> list[str]:
    """Every bench sweep, each after the sweeps it reads (by name within a layer)."""
    reads, order = _reads(), []
    while len(order) < len(reads):
        ready = [s for s in reads if s not in order and set(reads[s]) <= set(order)]
        assert ready, f"sweeps that wait on each other: {sorted(set(reads) - set(order))}"
        order += ready
    return order


ORDER = _run_order()


def _on_population(sweep: str) -> bool:
    """Whether a sweep runs on a population (its file sets ``zoo_is_population``)."""
    return bool(OmegaConf.load(SWEEPS_DIR / f"{sweep}.yaml").get("zoo_is_population"))
# CW-L2's smallest case still runs the authors' 9 x 10,000-step search: cut it for the test
SHORTER = {"fig5": ["method.binary_search_steps=1", "method.max_iter=20"]}


def _compose(config: str, overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config, overrides=[*overrides, "paths.root_dir=/R"],
                       return_hydra_config=True)


def test_there_is_a_preset_per_sweep_and_dataset():
    datasets = sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml"))
    assert BENCH_EXPERIMENTS == sorted(f"{s}_{d}" for s in ORDER for d in datasets)
    assert {"fig6_cifar10", "table4_fashion_mnist", "tables5-7_imagenet"} <= \
        set(BENCH_EXPERIMENTS)
    assert ZOO_EXPERIMENTS == [f"zoo_{d}" for d in datasets]


@pytest.mark.parametrize("name", BENCH_EXPERIMENTS)
def test_each_bench_preset_pins_dataset_sweep_and_group(name):
    sweep, dataset = name.split("_", 1)
    cfg = _compose("bench", [f"experiment={name}"])
    assert (cfg.dataset.name, cfg.store.sweep) == (dataset, sweep)
    zoo = f"/R/zoo/{dataset}" + ("-population" if _on_population(sweep) else "")
    assert cfg.zoo_dir == zoo and cfg.logger.group == f"{dataset}-{sweep}"
    assert cfg.hydra.sweeper.params  # a multirun's grid


@pytest.mark.parametrize("name", ZOO_EXPERIMENTS)
def test_each_zoo_preset_pins_the_zoo(name):
    dataset = name.removeprefix("zoo_")
    cfg = _compose("train", [f"experiment={name}"])
    assert cfg.dataset.name == dataset and cfg.zoo_dir == f"/R/zoo/{dataset}"
    assert cfg.logger.group == f"zoo-{dataset}" and "member" in cfg.hydra.sweeper.params


def _first_point(cfg) -> list[str]:
    """The first value of every parameter the preset's sweep would vary."""
    parser = OverridesParser.create()
    out = []
    for key, values in cfg.hydra.sweeper.params.items():
        override = parser.parse_override(f"{key}={values}")
        out.append(f"{key}={next(iter(override.sweep_iterator()))}")
    return out


def test_debug_smoke_runs_every_digits_preset_and_never_touches_the_real_zoo(tmp_path):
    real = tmp_path / "zoo" / "digits"
    real.mkdir(parents=True)
    (real / "keep").write_text("a real zoo")
    builder = build_zoo(compose_cfg("train", ["experiment=zoo_digits", "debug=smoke",
                                              "logger=none"], tmp_path))
    assert sorted(builder.built) == sorted([  # one member of each kind
        "target", "ftll", "ftal", "rtll", "rtal", "wp-p0.10", "fp-c01of16", "same_arch-s1",
        "lenet-s0", "vgg-s0", "forest-s0"])
    assert (tmp_path / "debug" / "zoo" / "digits" / "target" / "target").is_dir()
    # the population sweeps need a population, built and benched in tests/zoo/test_population.py
    for sweep in (s for s in ORDER if not _on_population(s)):
        preset = [f"experiment={sweep}_digits", "debug=smoke", "logger=none"]
        point = _first_point(_compose("bench", preset))
        result = run_bench(compose_cfg("bench", [*preset, *point, *SHORTER.get(sweep, [])],
                                       tmp_path))
        assert result.path.parent == tmp_path / "debug" / "results" / "digits" / sweep
        assert result.record.setting.n == 10
    assert [p.name for p in real.iterdir()] == ["keep"]  # never the real zoo...
    assert not (tmp_path / "results").exists()          # ...nor the real results
    stored = read_records_dir(tmp_path / "debug" / "results" / "digits" / "table8")
    assert len(stored) == 1 and stored[0].setting.n == 10
