"""The CIFAR, ImageNet and Fashion-MNIST zoos: every member kind composes (in every zoo of
conf/zoo/) and builds through the real zoo builder (Lightning, fast_dev_run, on a tiny CIFAR
written in torchvision's format), the default configs plan Table 1's counts, the FLOPs recorded
are the architecture's, and the zoo sweep, expanded as Hydra expands it, covers each zoo
exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from test_datasets import write_cifar

from ipguard.app.config import CONF_DIR, typed
from ipguard.utils.errors import MissingZooError
from ipguard.zoo import load_zoo
from ipguard.zoo.suspects import AUXILIARY, FINETUNE, HARDER, STEALING
from train.plan import SELECTIONS, plan, selections
from train.postprocess import pruning_levels
from train.schema import TrainConfig, ZooSpec

from conftest import CONF, compose_cfg

# Every zoo the suite ships (conf/zoo/<dataset>.yaml, chosen by dataset=)
ZOOS = sorted(p.stem for p in (CONF_DIR / "zoo").glob("*.yaml"))
# Table 1 of the paper: (positives, negatives); Table 2 names the levels behind the positives
TABLE1 = {"cifar10": (15, 80), "cifar100": (14, 80), "imagenet": (10, 10)}
PAPER_LEVELS = {"cifar10": (0.4, 7 / 16), "cifar100": (0.5, 5 / 16), "imagenet": (0.5, 3 / 16)}


def _zoo(dataset: str, root: Path, *overrides: str) -> dict:
    cfg = compose_cfg("train", [f"dataset={dataset}", *overrides], root)
    return OmegaConf.to_container(cfg.zoo, resolve=True)


def _spec(dataset: str, root: Path, *overrides: str) -> ZooSpec:
    return typed(compose_cfg("train", [f"dataset={dataset}", *overrides], root), TrainConfig).zoo


def _names(zoo: ZooSpec, member: str = "all", seed: int | None = None) -> list[str]:
    return [job.name for job in plan(zoo, member, seed)]


# ----------------------------------------------------------------------------- configs
def test_every_dataset_has_its_zoo_and_the_papers_datasets_are_there():
    """``zoo: ${dataset}`` in conf/train.yaml: a dataset without a zoo config cannot build."""
    assert ZOOS == sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml"))
    assert set(TABLE1) == set(PAPER_LEVELS) and set(TABLE1) <= set(ZOOS)


@pytest.mark.parametrize("dataset", ZOOS)
def test_zoo_entry_composes_for_every_member_kind(tmp_path, dataset):
    zoo = _spec(dataset, tmp_path)
    families = list(zoo.negatives.archs)
    assert set(selections(zoo)) == {"all", "target", "positives", "negatives", "finetune",
                                    *FINETUNE, "wp", "fp", "same_arch", "forest", *families,
                                    "stealing", *STEALING, "harder_neg", *HARDER,
                                    "auxiliary", *AUXILIARY}
    assert set(selections(zoo)) == {*SELECTIONS, *families}   # what `member=` accepts
    # `member` is a plain string to Hydra: compose a job of each sort (a family's, seeded)
    for overrides in (["member=target"], ["member=fp"], [f"member={families[0]}", "seed=0"]):
        cfg = compose_cfg("train", [f"dataset={dataset}", *overrides], tmp_path)
        assert cfg.member == overrides[0].split("=")[1] and cfg.dataset.name == dataset
        assert cfg.zoo_dir == f"{tmp_path}/zoo/{dataset}"


@pytest.mark.parametrize("dataset", sorted(TABLE1))
def test_default_zoos_plan_table_1s_counts(tmp_path, dataset):
    zoo = _zoo(dataset, tmp_path)
    positives, negatives = TABLE1[dataset]
    assert len(_names(_spec(dataset, tmp_path), "negatives")) == negatives
    pos = zoo["positives"]
    assert set(pos["finetune"]) == set(FINETUNE) and pos["max_accuracy_loss"] == 0.03
    wp = pruning_levels(pos["wp"]["step"], pos["wp"]["largest"])
    fp = pruning_levels(pos["fp"]["step"], pos["fp"]["largest"])
    assert wp[:5] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert fp[:7] == pytest.approx([m / 16 for m in range(1, 8)])
    # the 3 % rule ends each chain; the levels the paper kept are all on it
    max_p, max_c = PAPER_LEVELS[dataset]
    kept = 4 + sum(p <= max_p + 1e-9 for p in wp) + sum(c <= max_c + 1e-9 for c in fp)
    if dataset != "imagenet":  # the paper's ImageNet row (10) is less than its Table 2 (12)
        assert kept == positives


def test_cifar_zoos_have_the_papers_families(tmp_path):
    for dataset, arch in (("cifar10", "resnet20"), ("cifar100", "wrn22_4")):
        zoo = _zoo(dataset, tmp_path)
        assert zoo["target"]["arch"] == arch
        assert zoo["negatives"]["same_arch"]["count"] == 50
        assert {f: c["arch"] for f, c in zoo["negatives"]["archs"].items()} == {
            "lenet": "lenet5", "vgg": "vgg16_bn"}
        assert zoo["negatives"]["forest"]["n_estimators"] == 20
        recipe = zoo["target"]["recipe"]
        assert (recipe["optimizer"], recipe["lr"], recipe["batch_size"]) == ("sgd", 0.1, 128)


def test_imagenet_zoo_is_pretrained_torchvision_models(tmp_path):
    zoo = _zoo("imagenet", tmp_path)
    assert zoo["target"]["model"]["arch"] == "resnet50" and zoo["target"]["recipe"] is None
    on = {c["arch"] for c in zoo["negatives"]["archs"].values() if c["count"] > 0}
    # torchvision's counterparts of the paper's families
    assert {"vgg16", "resnet152", "inception_v3", "mobilenet_v2", "densenet201"} <= on
    assert any(a.startswith("resnext101") for a in on) and len(on) == 10
    assert all(c["recipe"] is None and c["model"]["weights"] and c["model"]["preset"]
               for c in zoo["negatives"]["archs"].values())


# ----------------------------------------------------------------------------- sweeps
def _sweep_jobs(*overrides: str, sweep: str | None = "zoo") -> list[list[str]]:
    """The jobs of ``python -m train.zoo -m [sweep=<sweep>] <overrides>``, as Hydra's basic
    sweeper expands them: the sweep's parameters and the command line's (which win) parsed
    by Hydra's override parser, then crossed."""
    parser = OverridesParser.create()
    cli = parser.parse_overrides(list(overrides))
    params = []
    if sweep is not None:
        fixed = [o.input_line for o in cli if not o.is_sweep_override()]
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config_name="train", overrides=[f"sweep={sweep}", *fixed],
                          return_hydra_config=True)
        params = parser.parse_overrides([f"{k}={v}" for k, v in
                                         cfg.hydra.sweeper.params.items()])
    (batch,) = BasicSweeper.split_arguments([*params, *cli], max_batch_size=None)
    return batch


def _covers_the_zoo_once(tmp_path: Path, dataset: str, first: list[str], jobs: list[list[str]]
                         ) -> None:
    """The members ``first`` (the target's job) and then ``jobs`` build: the whole zoo, each
    member once, no positive before the target; each job composes."""
    zoo = _spec(dataset, tmp_path)
    built = _names(zoo, *first)
    assert built[0] == "target"
    for job in jobs:
        cfg = typed(compose_cfg("train", job, tmp_path), TrainConfig)   # it composes
        assert cfg.dataset.name == dataset and cfg.member != "target"
        built += _names(cfg.zoo, cfg.member, cfg.seed)
    assert sorted(built) == sorted(_names(zoo))   # everything, and nothing twice


def _job_members(jobs: list[list[str]]) -> list[str]:
    return [dict(o.split("=", 1) for o in job)["member"] for job in jobs]


def _zoo_families(dataset: str) -> set[str]:
    """The zoo's own negative families (zoo.negatives.archs), as `member=` names them."""
    return set(compose_cfg("train", [f"dataset={dataset}"]).zoo.negatives.archs)


# The zoos whose families are those sweeps/zoo.yaml runs (one job each); the others need jobs
# of their own (test_imagenet_zoo_builds_in_the_two_jobs_its_config_names)
SWEEP_FAMILIES = set(_job_members(_sweep_jobs("dataset=digits")))
BY_ZOO_SWEEP = [d for d in ZOOS if _zoo_families(d) <= SWEEP_FAMILIES]


def test_only_imagenet_has_families_of_its_own():
    """ImageNet's negatives are torchvision's pretrained families, built in the two jobs its
    config names; every other zoo is covered by the zoo sweep."""
    assert sorted(set(ZOOS) - set(BY_ZOO_SWEEP)) == ["imagenet"]


@pytest.mark.parametrize("dataset", BY_ZOO_SWEEP)
def test_zoo_sweep_builds_each_member_once_after_the_target(tmp_path, dataset):
    """sweeps/zoo.yaml: `member=target` first, by itself, then one job per member family."""
    _covers_the_zoo_once(tmp_path, dataset, ["target"], _sweep_jobs(f"dataset={dataset}"))


def test_imagenet_zoo_builds_in_the_two_jobs_its_config_names(tmp_path):
    """conf/zoo/imagenet.yaml: `-m member=target,negatives` (weights only), then
    `member=positives` (with the ImageNet folder); the families are ImageNet's own, so
    sweeps/zoo.yaml (lenet, vgg) does not apply."""
    jobs = _sweep_jobs("dataset=imagenet", "member=target,negatives", sweep=None)
    assert _job_members(jobs) == ["target", "negatives"]
    _covers_the_zoo_once(tmp_path, "imagenet", ["target"],
                         [jobs[1], ["dataset=imagenet", "member=positives"]])


def test_a_seeded_family_splits_into_one_job_per_seed(tmp_path):
    """`member=same_arch 'seed=range(1,51)'`: one member per job, each seed of the family."""
    zoo = _spec("cifar10", tmp_path)
    jobs = [dict(o.split("=", 1) for o in job) for job in
            _sweep_jobs("dataset=cifar10", "member=same_arch", "seed=range(1,51)", sweep=None)]
    names = [_names(zoo, job["member"], int(job["seed"])) for job in jobs]
    assert names == [[f"same_arch-s{s}"] for s in range(1, 51)]


# ----------------------------------------------------------------------------- building
TINY = [
    "dataset.loader.download=false",
    "+trainer.fast_dev_run=true",
    "threads=1",
    "zoo.positives.wp.largest=0.1",
    "zoo.positives.fp.largest=0.0625",
    "zoo.negatives.same_arch.count=1",
    "zoo.negatives.archs.lenet.count=1",
    "zoo.negatives.archs.vgg.count=1",
    "zoo.negatives.forest.count=1",
    "zoo.negatives.forest.n_estimators=3",
]


def test_every_member_kind_builds_on_a_tiny_cifar_with_fast_dev_run(tmp_path):
    """The real entry (train.zoo.build_zoo) on CIFAR-10 files in torchvision's format: one
    Lightning batch per member, every kind of Table 1 written as a complete member folder."""
    from train.zoo import build_zoo

    write_cifar(tmp_path / "data", "cifar10", per_batch=4, test=20)
    cfg = compose_cfg("train", ["dataset=cifar10", *TINY], tmp_path)
    builder = build_zoo(cfg)
    zoo = load_zoo(tmp_path / "zoo" / "cifar10")
    by_name = {m.name: m for m in zoo.members}
    assert set(by_name) == {"target", "ftll", "ftal", "rtll", "rtal", "wp-p0.10", "fp-c01of16",
                            "same_arch-s1", "lenet-s0", "vgg-s0", "forest-s0"}
    params = {"resnet20": 269_722, "lenet5": 62_006, "vgg16_bn": 14_724_042}
    for m in zoo.members:
        assert m.test_accuracy is not None and 0.0 <= m.test_accuracy <= 1.0
        if m.arch in params:
            assert m.parameters == params[m.arch] and m.model is not None
    for kind in (*FINETUNE, "wp", "fp"):   # positives (or the level the 3 % rule ended)
        member = next(m for m in zoo.members if m.kind == kind)
        assert member.parent == "target" and member.arch == "resnet20"
        assert member.role in (("positive",) if kind in FINETUNE
                               else ("positive", "rejected"))
    assert by_name["wp-p0.10"].nonzero_parameters < 0.95 * by_name["target"].nonzero_parameters
    assert by_name["fp-c01of16"].hyper["c"] == 0.0625
    # a rerun finds every member complete and trains nothing
    again = build_zoo(cfg)
    assert again.built == [] and len(again.skipped) == len(builder.built)
    # members load back into classifiers that answer for CIFAR inputs
    x = torch.rand(4, 3, 32, 32)
    for m in zoo.members:
        assert m.load_classifier().predict(x).shape == (4,)


def test_cifar100_positives_wait_for_the_wrn_target(tmp_path):
    from train.zoo import build_zoo

    dataset = "cifar100"
    write_cifar(tmp_path / "data", dataset, per_batch=8, test=8)
    cfg = compose_cfg("train", [f"dataset={dataset}", *TINY], tmp_path)
    cfg.member = "finetune"
    with pytest.raises(MissingZooError, match="target is not built"):
        build_zoo(cfg)                      # positives fail clearly without their target
    cfg.member = "target"
    build_zoo(cfg)
    cfg.member = "rtal"
    build_zoo(cfg)
    zoo = load_zoo(tmp_path / "zoo" / dataset)
    assert {m.name for m in zoo.members} == {"target", "rtal"}
    assert zoo.target.arch == "wrn22_4" and zoo.target.parameters == 4_322_100


def test_resnet20_recipe_learns_a_tiny_cifar_and_wp_keeps_the_three_percent_rule(tmp_path):
    """Real epochs: the CIFAR recipe (SGD with Nesterov momentum, lr 0.1, cosine, crop + flip)
    learns a learnable tiny CIFAR-10; a WP level is a positive exactly when it keeps the
    target's accuracy within 3 %."""
    from train.zoo import build_zoo

    write_cifar(tmp_path / "data", "cifar10", per_batch=40, test=100)
    cfg = compose_cfg("train", [
        "dataset=cifar10", "dataset.loader.download=false", "threads=1", "member=target",
        "zoo.target.recipe.epochs=6", "zoo.target.recipe.batch_size=32",
        "zoo.positives.wp.largest=0.2", "zoo.positives.wp.recipe.epochs=1"], tmp_path)
    build_zoo(cfg)
    cfg.member = "wp"
    build_zoo(cfg)
    zoo = load_zoo(tmp_path / "zoo" / "cifar10")
    assert zoo.target.test_accuracy > 0.6            # chance is 0.1
    wp = [m for m in zoo.members if m.kind == "wp"]
    assert wp and wp[0].name == "wp-p0.10"
    for m in wp:
        loss = zoo.target.test_accuracy - m.test_accuracy
        assert m.hyper["accuracy_loss"] == pytest.approx(loss)
        assert (m.role == "positive") == (loss <= 0.03 + 1e-9)


# ----------------------------------------------------------------------------- FLOPs and
# pretrained members: member.json records each network's FLOPs (train/flops.py), ImageNet's
# pretrained members (`recipe: null`) are saved untrained, and the trainer config's
# channels-last and loader workers reach the build
def test_fp_members_record_flops_after_pruning(tmp_path):
    from train.zoo import build_zoo

    write_cifar(tmp_path / "data", "cifar10", per_batch=4, test=20)
    cfg = compose_cfg("train", ["dataset=cifar10", *TINY, "zoo.positives.fp.largest=0.125",
                                "+trainer.channels_last=true", "+trainer.num_workers=0"],
                      tmp_path)
    cfg.member = "target"
    build_zoo(cfg)
    cfg.member = "fp"
    build_zoo(cfg)
    zoo = load_zoo(tmp_path / "zoo" / "cifar10")
    target = zoo.target
    assert target.hyper["flops"] == target.hyper["flops_dense"] == 40_551_040
    fp = sorted((m for m in zoo.members if m.kind == "fp"), key=lambda m: m.hyper["c"])
    assert fp, "no FP member"
    for m in fp:  # about c of the work goes (the residual outputs keep their filters)
        assert m.hyper["flops"] < target.hyper["flops"]
        assert m.hyper["flops_reduction"] == pytest.approx(m.hyper["c"], abs=0.03)
    x = torch.rand(4, 3, 32, 32)
    assert target.load_classifier().predict(x).shape == (4,)   # channels-last weights reload


# MobileNetV2 (Sandler et al. 2018, Table 2): the expansion t, output channels c, repeats n and
# first stride s of each bottleneck stage, between a 3x3 stem (32 channels, stride 2) and a
# 1x1 convolution to 1,280 channels before the classifier.
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))


def _mobilenet_v2_layers(size: int = 224, classes: int = 1000) -> list[tuple[int, int]]:
    """Each convolution and the classifier of MobileNetV2 in order, as (weights, output
    positions) for one size x size input, from the architecture's table alone: a layer's
    multiply-accumulates are its weights times its output positions (train/flops.py counts
    as Li et al. 2017; no bias, batch norm or activation)."""
    h = (size + 1) // 2
    layers = [(32 * 3 * 3 * 3, h * h)]                 # stem: 3x3, 3 -> 32, stride 2
    channels = 32
    for t, out, n, stride in MOBILENET_V2:
        for i in range(n):
            hidden = channels * t
            if t != 1:
                layers.append((hidden * channels, h * h))   # 1x1 expansion
            step = stride if i == 0 else 1
            h = (h + step - 1) // step                      # 3x3, padding 1
            layers.append((hidden * 3 * 3, h * h))          # 3x3 depthwise: one input each
            layers.append((out * hidden, h * h))            # 1x1 projection
            channels = out
    layers.append((1280 * channels, h * h))                 # 1x1 to 1,280
    layers.append((classes * 1280, 1))                      # the classifier
    return layers


def test_mobilenet_v2_by_hand_is_its_published_count():
    """The hand count is MobileNetV2's 300.8 M multiply-accumulates at 224x224 (the paper's
    300 M; torchvision's 0.30 GFLOPS), so it can check what the builder records."""
    assert sum(w * pos for w, pos in _mobilenet_v2_layers()) == 300_774_272


def test_imagenet_pretrained_members_are_loaded_not_trained(tmp_path):
    """`recipe: null`: the network is saved as constructed (here without downloadable weights:
    weights=null), recorded with `weights: null` so it is rebuilt without a download; with no
    ImageNet folder there is no test accuracy and the positives say what they need."""
    from ipguard.utils.errors import IPGuardError
    from train.zoo import build_zoo

    zoo = _zoo("imagenet", tmp_path)
    off = [f"zoo.negatives.archs.{f}.count=0" for f in zoo["negatives"]["archs"]
           if f != "mobilenet_v2"]
    overrides = ["dataset=imagenet", "threads=1", "zoo.target.model.weights=null",
                 "zoo.target.model.arch=mobilenet_v2", "zoo.target.model.preset=IMAGENET1K_V2",
                 "zoo.negatives.archs.mobilenet_v2.model.weights=null",
                 "zoo.negatives.archs.mobilenet_v2.model.preset=IMAGENET1K_V2", *off]
    cfg = compose_cfg("train", [*overrides, "member=target"], tmp_path)
    build_zoo(cfg)
    cfg.member = "negatives"
    build_zoo(cfg)
    built = load_zoo(tmp_path / "zoo" / "imagenet")
    assert {m.name for m in built.members} == {"target", "mobilenet_v2-s0"}
    for m in built.members:
        assert m.train_seconds == 0.0 and m.test_accuracy is None
        assert m.model["weights"] is None and m.model["preset"] == "IMAGENET1K_V2"
        # FLOPs (train/flops.py) against the hand count: every layer, in order, has the
        # table's weights; the dense count is theirs times the output positions, and the
        # recorded count skips the exact zeros of the saved weights (none are pruned)
        layers = _mobilenet_v2_layers()
        weights = [mod.weight for mod in m.load_module().modules()
                   if isinstance(mod, torch.nn.Conv2d | torch.nn.Linear)]
        assert [w.numel() for w in weights] == [n for n, _ in layers]
        assert m.hyper["flops_dense"] == sum(n * pos for n, pos in layers) == 300_774_272
        assert m.hyper["flops"] == sum(int(torch.count_nonzero(w)) * pos
                                       for w, (_, pos) in zip(weights, layers, strict=True))
    x = torch.rand(2, 3, 64, 64)
    again = built.find("mobilenet_v2-s0").load_module()
    assert again.input_size == 224 and again(x).shape == (2, 1000)
    cfg.member = "ftll"
    with pytest.raises(IPGuardError, match="no training images.*dataset.loader.root"):
        build_zoo(cfg)
