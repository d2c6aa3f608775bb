"""The zoo builder in parts (docs/design.md, "The zoo builder"): the seeds of zoo members
(train.plan.member_seed), the plan a selection yields, a pruned member measured once, and members
(forests included) saved through ipguard.zoo and read back."""

from __future__ import annotations

import shutil

import pytest
import torch

from ipguard.app.config import typed
from ipguard.core.classifier import ForestClassifier
from ipguard.models.digits import small_cnn
from ipguard.models.forest import train_forest
from ipguard.utils.errors import ConfigError, IPGuardError
from ipguard.zoo import FOREST_FILE, Member, file_sha256, is_built, load_zoo, save_member
from train.plan import member_seed, plan
from train.schema import TrainConfig, ZooSpec

from conftest import compose_cfg
from helpers import MICRO_ZOO, copy_zoo

# The seeds every digits zoo built so far has (member.json "seed"), target seed 0.
BUILT_SEEDS = {"target": 0, "ftll": 1000, "ftal": 1001, "rtll": 1002, "rtal": 1003,
               **{f"wp-p0.{m}0": 2000 + 100 * m for m in range(1, 10)},
               "fp-c01of16": 2062, "fp-c02of16": 2125, "fp-c03of16": 2188, "fp-c04of16": 2250,
               "fp-c05of16": 2312, "fp-c06of16": 2375, "fp-c07of16": 2438,
               "same_arch-s1": 1, "same_arch-s20": 20, "lenet-s0": 0, "vgg-s4": 4,
               "forest-s3": 3}


def _zoo(tmp_path, *overrides: str) -> ZooSpec:
    return typed(compose_cfg("train", list(overrides), tmp_path), TrainConfig).zoo


def _names(zoo: ZooSpec, member: str = "all", seed: int | None = None) -> list[str]:
    return [job.name for job in plan(zoo, member, seed)]


# ----------------------------------------------------------------------------- seeds
def test_member_seed_derives_todays_seeds():
    """target: its seed; FT/RT: +1000 + place in (ftll, ftal, rtll, rtal); WP/FP at level L:
    +2000 + round(1000 L), half to even; negatives: their own seed."""
    assert member_seed("target", target_seed=0) == 0
    assert [member_seed(k, target_seed=0) for k in ("ftll", "ftal", "rtll", "rtal")] == \
        [1000, 1001, 1002, 1003]
    assert member_seed("wp", target_seed=0, level=0.1) == 2100
    assert [member_seed("fp", target_seed=0, level=m / 16) for m in (1, 3, 5, 7)] == \
        [2062, 2188, 2312, 2438]              # 62.5 -> 62, 187.5 -> 188: Python's round
    assert member_seed("ftal", target_seed=7) == 1008
    assert member_seed("wp", target_seed=7, level=0.3) == 2307
    for family in ("same_arch", "lenet", "forest"):
        assert member_seed(family, target_seed=7, seed=4) == 4
    with pytest.raises(ValueError, match="level"):
        member_seed("fp", target_seed=0)


def test_the_digits_plan_keeps_the_seeds_of_the_built_zoo(tmp_path):
    seeds = {job.name: job.seed for job in plan(_zoo(tmp_path))}
    assert {name: seeds[name] for name in BUILT_SEEDS} == BUILT_SEEDS


# ----------------------------------------------------------------------------- the plan
def test_a_selection_yields_its_jobs_in_build_order(tmp_path):
    zoo = _zoo(tmp_path)
    assert _names(zoo, "target") == ["target"]
    assert _names(zoo, "finetune") == ["ftll", "ftal", "rtll", "rtal"]
    assert _names(zoo, "wp") == [f"wp-p0.{m}0" for m in range(1, 10)]   # the executor stops
    assert len(_names(zoo, "fp")) == 15                                  # at the 3 % rule
    assert _names(zoo, "positives") == [*_names(zoo, "finetune"), *_names(zoo, "wp"),
                                        *_names(zoo, "fp")]
    negatives = _names(zoo, "negatives")
    assert negatives == [*_names(zoo, "same_arch"), *_names(zoo, "lenet"), *_names(zoo, "vgg"),
                         *_names(zoo, "forest")]
    assert len(negatives) == 20 + 5 + 5 + 5
    assert _names(zoo) == ["target", *_names(zoo, "positives"), *negatives]
    jobs = {job.name: job for job in plan(zoo)}
    assert jobs["ftll"].parent == "target" and jobs["ftll"].role == "positive"
    assert jobs["fp-c02of16"].level == 0.125 and jobs["fp-c02of16"].budget == 0.03
    assert jobs["fp-c02of16"].hyper == {"c": 0.125, "c_fraction": "1/8"}
    assert jobs["same_arch-s3"].recipe == zoo.target.recipe          # the target's recipe
    assert jobs["lenet-s0"].arch == "lenet5" and jobs["lenet-s0"].recipe is not None
    assert jobs["forest-s0"].model is None and jobs["forest-s0"].hyper == {"n_estimators": 20}


def test_a_seed_keeps_that_seed_of_each_selected_family(tmp_path):
    zoo = _zoo(tmp_path)
    assert _names(zoo, "lenet", 3) == ["lenet-s3"]
    assert _names(zoo, "negatives", 3) == ["same_arch-s3", "lenet-s3", "vgg-s3", "forest-s3"]
    assert _names(zoo, "target", 3) == ["target"]           # unseeded members ignore it
    with pytest.raises(ConfigError) as exc:
        plan(zoo, "lenet", 7)
    assert str(exc.value) == "invalid seed=7: the seeds of lenet are [0, 1, 2, 3, 4]"
    with pytest.raises(ConfigError, match="seeds of same_arch"):
        plan(zoo, "negatives", 0)                           # same_arch starts at seed 1


def test_an_unknown_selection_lists_the_choices(tmp_path):
    with pytest.raises(ConfigError) as exc:
        plan(_zoo(tmp_path), "foo")
    text = str(exc.value)
    assert text.startswith("invalid member='foo': choose one of") and "\n" not in text
    assert "'same_arch'" in text and "'lenet'" in text and "'positives'" in text


def test_pretrained_members_record_their_weights_and_store_none(tmp_path):
    jobs = {job.name: job for job in plan(_zoo(tmp_path, "dataset=imagenet"))}
    target = jobs["target"]
    assert target.recipe is None and target.hyper == {"pretrained": "IMAGENET1K_V1"}
    assert target.model["weights"] == "IMAGENET1K_V1" and target.stored_model["weights"] is None
    assert jobs["ftll"].recipe is not None and jobs["ftll"].hyper == {}
    assert "vgg16-s0" in jobs and "regnet-s0" not in jobs    # count 0: not planned


# ----------------------------------------------------------------------------- building
def test_every_planned_kind_has_its_builder(tmp_path):
    """The registry (train.builders) covers every kind a plan yields, the paper's, the
    stealing families and the config's own families of other architectures; an unknown
    kind says where to register it."""
    from train.builders import BUILDERS, OTHER_ARCH, builder_for

    zoo = _zoo(tmp_path, "zoo.stealing.extraction.budgets=[20]",
               "zoo.stealing.adv_ft.epsilons=[0.1]", "zoo.stealing.harder.overlaps=[0.25]")
    jobs = plan(zoo) + plan(zoo, "stealing")
    kinds = {job.kind for job in jobs}
    assert kinds >= {"target", "ftll", "rtal", "wp", "fp", "same_arch", "lenet", "forest",
                     "distill", "extract_label", "extract_prob", "adv_ft", "half", "overlap"}
    for job in jobs:
        builder = builder_for(job.kind, zoo.negatives.archs)
        assert builder is BUILDERS[OTHER_ARCH if job.kind in zoo.negatives.archs else job.kind]
    assert builder_for("lenet", zoo.negatives.archs).group is not None   # seeded: groups
    assert builder_for("wp").group is None
    with pytest.raises(IPGuardError, match="train/builders"):
        builder_for("lenet")   # not a family of this zoo


def test_a_pruned_member_is_measured_once(tmp_path, monkeypatch):
    """One accuracy measurement per member: it decides the 3 % rule and is what member.json
    records."""
    import train.context

    zoo = copy_zoo(tmp_path)
    for folder in (*zoo.glob("positive/wp-*"), *zoo.glob("rejected/wp-*")):
        shutil.rmtree(folder)
    measured: list[float] = []
    real = train.context.accuracy

    def counted(*args):
        measured.append(real(*args))
        return measured[-1]

    monkeypatch.setattr(train.context, "accuracy", counted)
    cfg = compose_cfg("train", [*MICRO_ZOO, "member=wp", "zoo.positives.wp.largest=0.2"],
                      tmp_path)
    from train.zoo import build_zoo

    builder = build_zoo(cfg)
    assert builder.built and len(measured) == len(builder.built)
    target = load_zoo(zoo).target
    for name, acc in zip(builder.built, measured, strict=True):
        member = Member.load(next(zoo.glob(f"*/{name}")))   # positive/ or rejected/
        assert member.test_accuracy == acc
        assert member.hyper["accuracy_loss"] == pytest.approx(target.test_accuracy - acc)


def test_a_forest_is_saved_through_the_zoo_and_read_back(tmp_path):
    torch.manual_seed(0)
    x, y = torch.rand(60, 1, 8, 8), torch.arange(60) % 3
    _, ensemble = train_forest(x, y, n_estimators=4, seed=0)
    folder = tmp_path / "negative" / "forest-s0"
    member = Member(name="forest-s0", role="negative", kind="forest", arch="forest", seed=0,
                    hyper={"n_estimators": 4}, path=str(folder))
    save_member(member, ensemble)
    assert is_built(folder) and sorted(p.name for p in folder.iterdir()) == [
        FOREST_FILE, "member.json"]                       # no temporary file left
    again = Member.load(folder)
    assert again.weights_sha256 == file_sha256(folder / FOREST_FILE) == member.weights_sha256
    assert torch.equal(again.load_classifier().predict(x), ForestClassifier(ensemble).predict(x))
    with pytest.raises(TypeError, match="forest-s0"):
        save_member(member, small_cnn(3, 1, 8, [0.3], [0.4]))   # a forest holds trees


def test_a_network_is_saved_weights_first_then_member_json(tmp_path):
    torch.manual_seed(0)
    model = small_cnn(10, 1, 8, [0.3], [0.4]).eval()
    spec = {"_target_": "ipguard.models.digits.small_cnn", "num_classes": 10, "in_channels": 1,
            "image_size": 8, "mean": [0.3], "std": [0.4]}
    folder = tmp_path / "negative" / "same_arch-s1"
    folder.mkdir(parents=True)
    (folder / ".weights.safetensors.x.tmp").write_bytes(b"left by a killed run")
    member = Member(name="same_arch-s1", role="negative", kind="same_arch", arch="small_cnn",
                    seed=1, model=spec, path=str(folder))
    save_member(member, model)
    assert sorted(p.name for p in folder.iterdir()) == ["member.json", "weights.safetensors"]
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(Member.load(folder).load_module()(x), model(x))
