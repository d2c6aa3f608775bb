"""Stealing suspects and harder negatives (docs/stealing.md): planned only
when selected, with their derived seeds; each family builds on a micro zoo; an extracted
student learns only the API's answers, within budget, and never touches the target's
parameters; the distillation loss is Hinton et al.'s formula; PGD stays in its epsilon-ball;
a killed extraction resumes without asking the API again and ends with the same weights;
records keep these suspects out of the headline; the stealing table and figure build."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import hydra
import pytest
import torch
from safetensors.torch import load_file

from ipguard.app.bench import run_bench
from ipguard.app.config import typed
from ipguard.core.metrics import aruc
from ipguard.models.digits import small_cnn
from ipguard.paper.base import FigureOut, Results, TableOut
from ipguard.paper.stealing_table import scores, stealing_table
from ipguard.paper.tables5_7 import matching_rates_table
from ipguard.utils.errors import ConfigError, IPGuardError
from ipguard.zoo import load_zoo
from ipguard.zoo.suspects import BEYOND_PAPER, Selection
from train.adversarial import PGD
from train.losses import NO_LABEL, Distillation, SoftTargets, distillation_targets
from train.plan import member_seed, plan
from train.query_api import check_budgets, draw_queries, extraction_set, network_api
from train.schema import TrainConfig
from train.training_sets import overlap_indices

from conftest import compose_cfg
from helpers import MICRO_ZOO, copy_zoo, member_json

# Every family beyond the paper, one epoch or a few steps each.
MICRO_STEALING = [
    "zoo.stealing.distill.students.same.recipe.epochs=1",
    "zoo.stealing.distill.students.lenet.recipe.epochs=1",
    "zoo.stealing.extraction.budgets=[20,0]",
    "zoo.stealing.extraction.students.same.recipe.epochs=1",
    "zoo.stealing.adv_ft.epsilons=[0.1]",
    "zoo.stealing.adv_ft.steps=2",
    "zoo.stealing.adv_ft.recipe.epochs=1",
    "zoo.stealing.harder.overlaps=[0.25]",
    "logger=none",
]
BEYOND = {"distill-lenet": ("positive", 3000), "distill-same": ("positive", 3001),
          "extract_label-same-q20": ("positive", 3100),
          "extract_label-same-qall": ("positive", 3101),
          "extract_prob-same-q20": ("positive", 3200),
          "extract_prob-same-qall": ("positive", 3201),
          "adv_ft-eps0.1": ("positive", 3300), "half-a": ("negative", 4000),
          "half-b": ("negative", 4001), "overlap-f0.25": ("negative", 4100)}


def _zoo(tmp_path: Path, *overrides: str):
    return typed(compose_cfg("train", list(overrides), tmp_path), TrainConfig).zoo


# ----------------------------------------------------------------------------- the plan
def test_the_families_are_planned_only_when_selected(tmp_path):
    zoo = _zoo(tmp_path)
    assert not [j for j in plan(zoo) if j.kind in BEYOND_PAPER]       # member=all: the paper's
    jobs = {j.name: j for j in plan(zoo, "stealing")}
    assert {k: j.kind for k, j in jobs.items()}.keys() == {
        "distill-lenet", "distill-same", *(f"extract_{a}-same-q{b}" for a in ("label", "prob")
                                           for b in (100, 300, 1000, "all")),
        "adv_ft-eps0.03", "adv_ft-eps0.1", "half-a", "half-b", "overlap-f0.50"}
    for job in jobs.values():
        assert job.role == ("negative" if job.kind in ("half", "overlap") else "positive")
        assert (job.parent == "target") == (job.role == "positive")
    assert jobs["distill-lenet"].seed == member_seed("distill", target_seed=0, index=0) == 3000
    assert jobs["extract_prob-same-q300"].seed == 3201 and jobs["adv_ft-eps0.1"].seed == 3301
    assert jobs["half-b"].seed == 4001 and jobs["overlap-f0.50"].seed == 4100
    assert jobs["extract_label-same-q100"].hyper["query_seed"] == member_seed("queries") == 3099
    assert jobs["distill-lenet"].arch == "lenet5" and jobs["distill-same"].arch == "small_cnn"
    assert [j.name for j in plan(zoo, "harder_neg")] == ["half-a", "half-b", "overlap-f0.50"]
    assert [j.name for j in plan(zoo, "extract_label")][-1] == "extract_label-same-qall"
    shifted = {j.name: j.seed for j in plan(_zoo(tmp_path, "zoo.target.seed=7"), "stealing")}
    assert shifted["distill-lenet"] == 3007 and shifted["half-a"] == 4007


def test_every_dataset_composes_its_stealing_families(tmp_path):
    # the adaptive thief starts from the attacker's own data, which a paper zoo has none of
    # (its target trains on every training input): only populations plan it
    for dataset in ("fashion_mnist", "cifar10", "cifar100", "imagenet"):
        kinds = {j.kind for j in plan(_zoo(tmp_path, f"dataset={dataset}"), "stealing")}
        assert kinds == set(BEYOND_PAPER) - {"extract_jacobian"}, dataset


def test_bad_input_is_one_line(tmp_path):
    with pytest.raises(ConfigError) as exc:
        check_budgets([100, 5000], 1437)
    assert str(exc.value).startswith("invalid zoo.stealing.extraction.budgets=5000: the query "
                                     "pool holds 1437") and "\n" not in str(exc.value)
    for override, field in (("zoo.stealing.distill.alpha=1.5", "alpha"),
                            ("zoo.stealing.extraction.budgets=[-1]", "budgets"),
                            ("zoo.stealing.adv_ft.epsilons=[2]", "epsilons"),
                            ("zoo.stealing.harder.overlaps=[1.5]", "overlaps")):
        with pytest.raises(ConfigError, match=f"invalid zoo.stealing.*{field}"):
            _zoo(tmp_path, override)
    from train.zoo import check_train

    cfg = typed(compose_cfg("train", ["member=stealing", "zoo.stealing.extraction.budgets="
                                      "[2000]"], tmp_path), TrainConfig)
    with pytest.raises(ConfigError, match="budgets=2000"):
        check_train(cfg)


# ----------------------------------------------------------------------------- the parts
def test_an_extracted_student_learns_only_the_apis_answers_within_budget():
    net, pool = small_cnn(10, 1, 8, [0.0], [1.0]).eval(), torch.rand(50, 1, 8, 8)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    api = network_api(net, "label", budget=20)
    x, y = extraction_set(api, pool, 20, seed=3)
    assert api.asked == 20 and len(x) == 20 and y.dtype == torch.int64
    with torch.no_grad():
        assert torch.equal(y, net(x).argmax(1))                # the target's labels, nothing else
    assert torch.equal(x, draw_queries(pool, 20, seed=3))     # a prefix of a seeded order
    assert torch.equal(draw_queries(pool, 5, seed=3), x[:5])
    api = network_api(net, "prob", budget=50)
    x, p = extraction_set(api, pool, 0, seed=3)
    with torch.no_grad():
        assert len(x) == 50 and p.dtype == torch.float32 and torch.allclose(p, net(x).softmax(1))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_the_budget_counts_every_call_and_refuses_the_query_past_it():
    pool = torch.rand(12, 1, 8, 8)
    api = network_api(small_cnn(10, 1, 8, [0.0], [1.0]), "label", budget=10)
    api.predict(pool[:4])
    api.predict(pool[4:10])                                    # 10 in two calls: within
    with pytest.raises(IPGuardError, match="11 queries exceed the budget of 10 .10 asked"):
        api.predict(pool[10:11])
    assert api.asked == 10                                     # the refused query got no answer


@pytest.mark.parametrize("answers", ["label", "prob"])
def test_the_attacker_cannot_reach_past_its_api(answers):
    """A label-only attacker gets labels: no logits, no network, no probabilities (and the
    probability API no labels), whatever name it reaches for."""
    api = network_api(small_cnn(10, 1, 8, [0.0], [1.0]), answers, budget=100)
    x = torch.rand(3, 1, 8, 8)
    for name in ("logits", "module", "net", "parameters", "state_dict"):
        with pytest.raises(AttributeError):
            getattr(api, name)
    with pytest.raises(AttributeError):
        api.module = None   # type: ignore[attr-defined]  # nothing can be attached either
    other = api.predict_proba if answers == "label" else api.predict
    with pytest.raises(IPGuardError, match=f"answers with {answers}s only"):
        other(x)
    assert api.asked == 0


def test_the_distillation_loss_is_hintons_formula_at_a_hand_computed_point():
    t, alpha = 2.0, 0.25
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(9.0), 0.0]])    # softmax(teacher / 2) = (3/4, 1/4)
    y = distillation_targets(teacher, torch.tensor([0]), alpha)
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    expected = alpha * t * t * kl + (1 - alpha) * math.log(2.0)
    assert Distillation(t, alpha)(student, y).item() == pytest.approx(expected, abs=1e-6)
    # alpha = 1: the true labels never enter the student's targets
    only_soft = distillation_targets(teacher, torch.tensor([1]), 1.0)
    assert only_soft[0, -1].item() == NO_LABEL
    assert Distillation(t, 1.0)(student, only_soft).item() == pytest.approx(t * t * kl, abs=1e-6)
    assert SoftTargets()(student, torch.tensor([[0.75, 0.25]])).item() == \
        pytest.approx(math.log(2.0), abs=1e-6)


def test_pgd_stays_in_its_ball_and_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = small_cnn(10, 1, 8, [0.5], [0.3])
    model.train()
    list(model.modules())[-1].eval()             # a mixed state (FTLL's frozen layers)
    modes = [m.training for m in model.modules()]
    x, y = torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,))
    attack = PGD(epsilon=0.1, steps=5, step_size=0.04)
    adv = attack(model, x, y)
    assert (adv - x).abs().max() <= 0.1 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert (adv - x).abs().max() > 0.09                       # it moved to the ball's edge
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())
    loss = torch.nn.functional.cross_entropy
    with torch.no_grad():
        assert loss(model.eval()(adv), y) > loss(model(x), y)


def test_overlap_sets_share_exactly_their_fraction_with_half_a():
    a, b = torch.arange(0, 10), torch.arange(10, 19)
    for f in (0.0, 0.25, 0.5, 1.0):
        idx = overlap_indices(a, b, f)
        assert len(idx) == 9 and len(set(idx.tolist())) == 9
        assert len(set(idx.tolist()) & set(a.tolist())) == round(f * 9)


# ----------------------------------------------------------------------------- the builds
@pytest.fixture(scope="module")
def stealing_zoo(tmp_path_factory) -> Path:
    """The micro zoo plus every family beyond the paper (``member=stealing``)."""
    from train.zoo import build_zoo

    root = tmp_path_factory.mktemp("stealing")
    zoo = copy_zoo(root)
    build_zoo(compose_cfg("train", [*MICRO_ZOO, *MICRO_STEALING, "member=stealing"], root))
    return zoo


def test_each_family_builds_and_says_what_it_is(stealing_zoo):
    zoo = load_zoo(stealing_zoo)
    found = {m.name: m for m in zoo.members if m.kind in BEYOND_PAPER}
    assert {k: (m.role, m.seed) for k, m in found.items()} == BEYOND
    # agreement: the fraction of test images on which the member gives the target's label;
    # the test accuracy: on which it gives the true label (both counted here from the saved
    # weights, label by label)
    x, y = hydra.utils.call(compose_cfg("train", MICRO_ZOO).dataset.loader).test_tensors()
    target = zoo.target.load_classifier().predict(x).tolist()
    for m in found.values():
        mine = m.load_classifier().predict(x).tolist()
        same = sum(a == b for a, b in zip(mine, target, strict=True))
        right = sum(a == b for a, b in zip(mine, y.tolist(), strict=True))
        assert m.hyper["agreement"] == same / len(x), m.name
        assert m.test_accuracy == pytest.approx(right / len(x), rel=1e-6), m.name
    label = member_json(stealing_zoo / "positive" / "extract_label-same-q20")["hyper"]
    assert label["attack"] == "extraction through the label API" and label["budget"] == 20
    assert label["queries"] == 20 and label["source"] == "train"
    assert label["epochs"] == 23                    # as many steps as the whole pool's epoch
    assert member_json(stealing_zoo / "positive" / "extract_prob-same-qall")["hyper"]["queries"] \
        == 1437
    distill = member_json(stealing_zoo / "positive" / "distill-lenet")
    assert distill["arch"] == "lenet5" and distill["hyper"]["temperature"] == 4.0
    assert member_json(stealing_zoo / "positive" / "adv_ft-eps0.1")["hyper"]["epsilon"] == 0.1
    half = member_json(stealing_zoo / "negative" / "half-a")["hyper"]
    assert half["examples"] == 719 and half["share_from_half_a"] == 1.0
    overlap = member_json(stealing_zoo / "negative" / "overlap-f0.25")["hyper"]
    assert overlap["examples"] == 718 and overlap["share_from_half_a"] == pytest.approx(0.25,
                                                                                     abs=1e-3)
    assert not (stealing_zoo / ".partial").exists()


def test_a_killed_extraction_resumes_without_asking_again(tmp_path, monkeypatch):
    """The first run asks the API, saves the answers and dies after epoch 2; the second
    resumes at epoch 3 from the saved answers (asking the API would fail) and ends with the
    weights of an uninterrupted build."""
    import train.builders.extraction as tb
    import train.module as tm
    from train.zoo import build_zoo

    args = [*MICRO_ZOO, *MICRO_STEALING, "member=extract_prob",
            "zoo.stealing.extraction.budgets=[0]", "zoo.stealing.extraction.students.same.recipe."
            "epochs=3"]
    clean, broken = tmp_path / "clean", tmp_path / "broken"
    for where in (clean, broken):
        copy_zoo(where)
    build_zoo(compose_cfg("train", args, clean))
    original = tm.LastCheckpoint.on_train_epoch_end

    def crash_after_two(self, trainer, pl_module):
        original(self, trainer, pl_module)
        if trainer.current_epoch + 1 == 2:
            raise RuntimeError("power cut")

    monkeypatch.setattr(tm.LastCheckpoint, "on_train_epoch_end", crash_after_two)
    with pytest.raises(RuntimeError, match="power cut"):
        build_zoo(compose_cfg("train", args, broken))
    partial = broken / "zoo" / "digits" / ".partial" / "extract_prob-same-qall"
    assert (partial / "queries.safetensors").is_file() and (partial / "last.ckpt").is_file()
    monkeypatch.setattr(tm.LastCheckpoint, "on_train_epoch_end", original)

    def no_api(*_):
        raise AssertionError("the API was asked again")

    monkeypatch.setattr(tb, "target_api", no_api)
    build_zoo(compose_cfg("train", args, broken))
    name = Path("positive") / "extract_prob-same-qall" / "weights.safetensors"
    mine = load_file(broken / "zoo" / "digits" / name)
    ref = load_file(clean / "zoo" / "digits" / name)
    assert all(torch.equal(mine[k], ref[k]) for k in ref)
    assert not partial.exists()


def test_records_keep_them_out_of_the_headline_and_the_table_builds(stealing_zoo, tmp_path,
                                                                   monkeypatch):
    root = tmp_path / "root"
    shutil.copytree(stealing_zoo, root / "zoo" / "digits")
    cfg = compose_cfg("bench", ["n=10", "logger=none", "threads=1", "store.sweep=stealing"],
                      root)
    cfg.paths.output_dir = str(tmp_path / "out")
    record = run_bench(cfg).record
    paper = [s for s in record.suspects if s.kind not in BEYOND_PAPER]
    extra = [s for s in record.suspects if s.kind in BEYOND_PAPER]
    assert len(extra) == len(BEYOND) and not any(s.in_default_selection for s in extra)
    pos = [s.matching_rate for s in paper if s.role == "positive"]
    neg = [s.matching_rate for s in paper if s.role == "negative"]
    assert record.aruc == pytest.approx(aruc(pos, neg, r=100), abs=1e-12)
    assert record.all_admitted.positives == len(pos)
    harder = [s for s in extra if s.role == "negative"]
    # the FPR is measured with the harder negatives in it, each harder family held out once
    assert record.verdicts.null.negatives == len(neg) + len(harder)
    assert {s.kind for s in harder} <= set(record.verdicts.at(0.05).by_family)
    assert not Selection().admits("extract_label", {})
    numbers = scores(record)
    steal = [s.matching_rate for s in extra if s.role == "positive"]
    harder = [s.matching_rate for s in harder]
    assert numbers["aruc_with_both"] == pytest.approx(aruc(pos + steal, neg + harder, r=100))
    results = Results.of_records({"digits": [record]})
    out = stealing_table("digits", results.of("digits", ["stealing"]))
    tables = [i for i in out.items if isinstance(i, TableOut)]
    figures = [i for i in out.items if isinstance(i, FigureOut)]
    assert [t.name for t in tables] == ["stealing-digits"] and len(figures) == 1
    rows = [r for r in tables[0].table.data if r["name"] != "(scores)"]
    assert {r["name"] for r in rows} == set(BEYOND)
    drawn = figures[0].draw(tmp_path / "stealing-digits.png")
    assert drawn[0].stat().st_size > 5000
    # the paper's Tables 5-7 leave them out
    paper_tables = matching_rates_table("digits", results, ["stealing"], "none")
    labels = {r["row"] for t in paper_tables.items if isinstance(t, TableOut)
              for r in t.table.data if "row" in r}
    assert not any("Extraction" in x or "Half" in x for x in labels)
