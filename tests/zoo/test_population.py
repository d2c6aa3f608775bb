"""Populations (docs/verdicts.md#population): the digits population is as large as a 1 % FPR
needs, split once into validation and test; the owner's and the attacker's data never share
an image and the thieves use the attacker's by default; a thief that needs the attacker's
data in a zoo without it is refused; the adaptive thief spends exactly its budget through one
counted API; a micro population builds and the bench records every target, each suspect
marked validation or test."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch import nn

from ipguard.app.bench import run_bench
from ipguard.app.config import CONF_DIR, typed
from ipguard.core.thresholds import min_negatives
from ipguard.data import load_digits_data
from ipguard.data.owner import owner_split
from ipguard.paper.population_table import population_table
from ipguard.paper.schemes_population import schemes_population_table
from ipguard.results.population import chosen, report, validation_aruc
from ipguard.results.store import read_records_dir
from ipguard.utils.errors import ConfigError, IPGuardError
from ipguard.zoo.population import load_population, read_split, split_population, write_split
from train.builders.jacobian import augment
from train.plan import plan
from train.population import population_split, target_zoo
from train.query_api import query_pool
from train.schema import TrainConfig
from train.zoo import build_zoo, check_train

from conftest import compose_cfg
from helpers import member_json

# The digits population, each member an epoch; two targets (one validation, one test).
MICRO_POPULATION = [
    "dataset=digits", "population=digits", "debug=smoke", "logger=none",
    "population.targets=[0,5000]", "zoo.negatives.same_arch.count=2",
    "zoo.stealing.extraction.budgets=[50,0]",
    "zoo.stealing.jacobian.rounds=[1]", "zoo.stealing.jacobian.seed_queries=30",
    "zoo.stealing.jacobian.round_epochs=1",
    *(f"zoo.stealing.{attack}.students.{s}.recipe.epochs=1"
      for attack, students in (("distill", ("same", "same_b", "lenet", "lenet_b")),
                               ("extraction", ("same", "lenet")),
                               ("jacobian", ("same", "lenet")))
      for s in students),
]


def _settings(tmp_path: Path, *overrides: str) -> TrainConfig:
    return typed(compose_cfg("train", list(overrides), tmp_path), TrainConfig)


def test_the_digits_population_supports_a_one_percent_fpr(tmp_path):
    cfg = _settings(tmp_path, "dataset=digits", "population=digits")
    pop, zoo = cfg.population, cfg.zoo
    assert pop is not None and len(pop.targets) >= 3 and zoo.data.owner_fraction < 1
    negatives = Counter(j.family for j in plan(zoo, "negatives"))
    assert sum(negatives.values()) >= 200 and negatives["same_arch"] >= 100
    split = population_split(zoo, pop)
    # the validation negatives support 1 % (99 needed), the same architecture's on their own
    assert len(split.validation_negatives) >= 99 and len(split.test_negatives) >= 99
    same = [n for n in split.validation_negatives if n.startswith("same_arch")]
    assert len(same) >= min_negatives(0.01)
    assert sum(n.startswith("same_arch") for n in split.test_negatives) >= 50
    thieves = Counter()
    archs: dict[str, set[str]] = {}
    for seed in pop.targets:
        for job in plan(target_zoo(zoo, seed), "stealing"):
            thieves[job.kind] += 1
            archs.setdefault(job.kind, set()).add(job.arch)
            assert job.hyper.get("source", "attacker") == "attacker"
            assert job.hyper.get("data", "attacker") == "attacker"
    assert set(thieves) == {"distill", "extract_label", "extract_prob", "extract_jacobian"}
    assert all(count >= 10 for count in thieves.values()), thieves
    assert all({"small_cnn", "lenet5"} <= a for a in archs.values()), archs


def test_the_split_is_fixed_disjoint_and_written_once(tmp_path):
    families = {"same_arch": [f"same_arch-s{i}" for i in range(1, 11)],
                "forest": [f"forest-s{i}" for i in range(3)]}
    split = split_population([0, 5, 9], 1, families, 0.5, seed=0)
    assert split == split_population([0, 5, 9], 1, families, 0.5, seed=0)
    val, test = set(split.validation_negatives), set(split.test_negatives)
    assert not val & test and val | test == {n for names in families.values() for n in names}
    assert split.validation_targets == (0,) and split.test_targets == (5, 9)
    assert sum(n.startswith("same_arch") for n in val) == 5
    write_split(tmp_path, split)
    assert read_split(tmp_path) == split
    with pytest.raises(IPGuardError, match="another split"):
        write_split(tmp_path, split_population([0, 5, 9], 1, families, 0.5, seed=1))
    # a split written before the training set's size was recorded takes it and resumes
    sized = dataclasses.replace(split, train_images=719)
    write_split(tmp_path, sized)
    assert read_split(tmp_path) == sized
    with pytest.raises(IPGuardError, match="another split"):
        write_split(tmp_path, dataclasses.replace(split, train_images=1000))


def test_the_owner_and_the_attacker_never_share_an_image():
    data = load_digits_data()
    owner, attacker = owner_split(data, 0.5, seed=0)
    assert attacker is not None
    x_owner, x_attacker = owner.train_tensors()[0], attacker.train_tensors()[0]
    assert len(x_owner) + len(x_attacker) == len(data.train)
    # no image of one part is in the other (digits has exact duplicates only by chance:
    # compare as rows of the flattened pixels, with their positions in the training set)
    rows = {tuple(r.tolist()) for r in x_owner.flatten(1)}
    shared = sum(tuple(r.tolist()) in rows for r in x_attacker.flatten(1))
    duplicates = len(data.train) - len({tuple(r.tolist()) for r in
                                        data.train_tensors()[0].flatten(1)})
    assert shared <= duplicates
    assert torch.equal(query_pool("attacker", owner, 0, attacker=attacker), x_attacker)
    assert owner_split(data, 1.0, seed=0) == (data, None)


def test_a_thief_with_the_attackers_data_needs_a_zoo_that_has_it(tmp_path):
    cfg = _settings(tmp_path, "dataset=digits", "member=stealing",
                    "zoo.stealing.extraction.source=attacker")
    with pytest.raises(ConfigError, match="owner_fraction"):
        check_train(cfg)
    with pytest.raises(ConfigError, match="no attacker's data"):
        query_pool("attacker", load_digits_data(), 0)


def test_jacobian_augmentation_steps_along_the_sign_of_the_labels_gradient():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[1.0, -2.0, 0.5, -0.1], [0.0, 1.0, -1.0, 3.0]]))
    x = torch.full((2, 1, 2, 2), 0.5)
    out = augment(net, x, torch.tensor([0, 1]), step=0.1)
    expected = torch.tensor([[0.6, 0.4, 0.6, 0.4], [0.5, 0.6, 0.4, 0.6]]).view(2, 1, 2, 2)
    assert torch.allclose(out, expected)
    assert augment(net, torch.ones(1, 1, 2, 2), torch.tensor([0]), 0.5).max() <= 1.0


@pytest.fixture(scope="module")
def micro_population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("population")
    build_zoo(compose_cfg("train", MICRO_POPULATION, root))
    return root


def test_a_population_builds_with_thieves_on_the_attackers_data(micro_population):
    folder = micro_population / "debug" / "zoo" / "digits-population"
    population = load_population(folder)
    assert set(population.zoos) == {0, 5000}
    assert population.split.validation_targets == (0,)
    names = {m.name for m in population.negatives.members}
    assert names == set(population.split.validation_negatives + population.split.test_negatives)
    zoo = folder / "target-s5000" / "positive"
    attacker_images = len(load_digits_data().train) - round(0.5 * len(load_digits_data().train))
    label = member_json(zoo / "extract_label-lenet-qall")["hyper"]
    assert label["source"] == "attacker" and label["queries"] == attacker_images
    assert member_json(zoo / "distill-same")["hyper"]["data"] == "attacker"
    jacobian = member_json(zoo / "extract_jacobian-same-r1")["hyper"]
    assert jacobian["queries"] == jacobian["budget"] == 60   # 30 seeds, doubled once
    assert member_json(folder / "target-s5000" / "target" / "target")["seed"] == 5000


def test_the_bench_records_every_target_with_its_parts(micro_population, tmp_path):
    cfg = compose_cfg("bench", ["dataset=digits", "method=random", "n=10", "logger=none",
                                "threads=1", "zoo_is_population=true",
                                "zoo_dir=${paths.zoo_dir}/${dataset.name}-population"],
                      micro_population / "debug")
    cfg.store.dir = str(tmp_path / "store")
    run_bench(cfg)
    for seed, part in ((0, "validation"), (5000, "test")):
        (record,) = read_records_dir(tmp_path / "store" / f"target-s{seed}")
        assert record.provenance.population_target == seed
        assert record.provenance.population_part == part
        parts = Counter((s.role, s.part) for s in record.suspects)
        assert parts[("negative", "validation")] >= 1 and parts[("negative", "test")] >= 1
        assert {p for (role, p) in parts if role == "positive"} == {part}


def test_the_population_table_chooses_on_validation_and_reports_on_test(micro_population,
                                                                        tmp_path):
    store = tmp_path / "store"
    for label in ("random", "least_likely"):
        cfg = compose_cfg("bench", ["dataset=digits", "method=random", "n=10", "logger=none",
                                    "threads=1", "zoo_is_population=true", f"label={label}",
                                    "zoo_dir=${paths.zoo_dir}/${dataset.name}-population"],
                          micro_population / "debug")
        cfg.store.dir = str(store)
        run_bench(cfg)
    records = read_records_dir(store)
    assert len(records) == 4
    by_combo = {c: [r for r in records if r.combo == c] for c in ("-TR", "-TL")}
    best = max(by_combo, key=lambda c: validation_aruc(by_combo[c]))
    picked = chosen(records)["random"]
    assert {r.combo for r in picked} == {best}
    rep = report(picked, reps=50)
    test = next(r for r in picked if r.provenance.population_part == "test")
    neg = [s for s in test.suspects if s.role == "negative" and s.part == "test"]
    val = [s for s in test.suspects if s.role == "negative" and s.part == "validation"]
    # τ from the validation negatives alone (two are too few for 1 %: the fit, labelled)
    assert all("extrapolation" in m for m in rep.tau_methods[0.01])
    assert sum(r.n for r in rep.fpr[0.01].values()) == len(neg)
    assert rep.positives["extract_jacobian"] == 2 and 0.0 <= rep.auc["distill"] <= 1.0
    assert len(val) >= 1
    out = population_table("digits", records, reps=50)
    (table,) = out.items
    families = {row["family"] for row in table.table.data}
    assert {"aruc", "same_arch", "ftll", "extract_label", "extract_jacobian"} <= families
    assert table.stem == "population-digits"


def test_schemes_run_on_every_target_with_its_own_auxiliary_models(micro_population,
                                                                   tmp_path):
    folder = micro_population / "debug" / "zoo" / "digits-population"
    population = load_population(folder)
    for seed in (0, 5000):   # each target's zoo holds the owner's own surrogates, references
        kinds = Counter(m.kind for m in population.zoos[seed].auxiliary())
        assert kinds["surrogate"] >= 1 and kinds["reference"] >= 1
    store = tmp_path / "store"
    for scheme in ("akh", "cae", "sac_w"):
        cfg = compose_cfg("bench", ["dataset=digits", f"scheme={scheme}", "logger=none",
                                    "threads=1", "zoo_is_population=true",
                                    "zoo_dir=${paths.zoo_dir}/${dataset.name}-population"],
                          micro_population / "debug")
        cfg.store.dir = str(store)
        run_bench(cfg)
    records = read_records_dir(store)
    assert Counter(r.method for r in records) == {"akh": 2, "cae": 2, "sac_w": 2}
    for record in records:
        parts = {s.part for s in record.suspects if s.role == "negative"}
        assert parts == {"validation", "test"}
    out = schemes_population_table("digits", records)
    rows = {(d["scheme"], d["family"]): d for d in out.items[0].table.data}
    assert rows[("cae", "headline")]["test_targets"] == 1
    assert rows[("sac_w", "negative:forest")]["not_applicable"] >= 1
    assert {"extract_jacobian", "distill"} <= {f for (m, f) in rows if m == "akh"}


def test_the_bench_refuses_a_loader_other_than_the_populations(micro_population, tmp_path):
    assert read_split(micro_population / "debug" / "zoo" / "digits-population").train_images \
        == len(load_digits_data().train)
    cfg = compose_cfg("bench", ["dataset=digits", "method=random", "n=10", "logger=none",
                                "threads=1", "zoo_is_population=true",
                                "dataset.loader.test_size=0.3",
                                "zoo_dir=${paths.zoo_dir}/${dataset.name}-population"],
                      micro_population / "debug")
    cfg.store.dir = str(tmp_path / "store")
    with pytest.raises(ConfigError, match="the population was built from 1437 training images"):
        run_bench(cfg)


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF_DIR / "population").glob("*.yaml")))
def test_every_population_config_composes_and_splits(tmp_path, name):
    cfg = _settings(tmp_path, f"dataset={name}", f"population={name}")
    assert cfg.population is not None and len(cfg.population.targets) >= 3
    assert cfg.zoo.data.owner_fraction < 1 and cfg.zoo_dir.endswith(f"{name}-population")
    split = population_split(cfg.zoo, cfg.population)
    assert len(split.validation_negatives) + len(split.test_negatives) >= 100
    assert split.test_targets and split.validation_targets
    for seed in cfg.population.targets:   # every thief holds the attacker's data
        jobs = plan(target_zoo(cfg.zoo, seed), "stealing")
        assert jobs and all(j.hyper.get("source", "attacker") == "attacker"
                            and j.hyper.get("data", "attacker") == "attacker" for j in jobs)
