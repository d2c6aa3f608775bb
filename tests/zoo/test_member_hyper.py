"""member.json's ``hyper`` is read through one typed view (ipguard.zoo.hyper.MemberHyper): the
labels the tables print come from it, a mistyped value is refused by name, and what a member
does not record reads as None."""

from __future__ import annotations

import dataclasses

import pytest

from ipguard.results.record import SuspectResult
from ipguard.utils.errors import IPGuardError
from ipguard.zoo.hyper import MemberHyper
from ipguard.zoo.suspects import BEYOND_PAPER, level_of, suspect_label, zoo_order

# What builders record (as in a digits zoo's member.json files), one per kind the labels read.
WRITTEN = {
    "wp": {"p": 0.3, "accuracy_loss": 0.01, "max_accuracy_loss": 0.03, "flops": 9000},
    "fp": {"c": 0.1875, "c_fraction": "3/16", "accuracy_loss": 0.02},
    "distill": {"student": "lenet", "temperature": 4, "alpha": 0.9, "agreement": 0.97},
    "extract_label": {"api": "label", "queries": 1000, "budget": 1000, "agreement": 0.9},
    "extract_prob": {"api": "prob", "queries": 250, "agreement": 0.8},
    "extract_jacobian": {"api": "label", "queries": 400, "rounds": 2, "student": "lenet5"},
    "adv_ft": {"epsilon": 0.03, "steps": 7, "agreement": 0.95},
    "half": {"half": "A", "split_seed": 0, "agreement": 0.96},
    "overlap": {"overlap": 0.5, "split_seed": 0, "agreement": 0.96},
}
LABELS = {
    "wp": "WP p=0.3", "fp": "FP c=3/16",
    "distill": "Distillation to lenet, T=4",
    "extract_label": "Extraction (label API), 1000 queries",
    "extract_prob": "Extraction (probability API), 250 queries",
    "extract_jacobian": "Jacobian extraction (adaptive) to lenet5, 400 queries",
    "adv_ft": "Adversarial fine-tuning, eps=0.03",
    "half": "Half of the data (A)", "overlap": "Overlapping data, overlap 0.5",
}


@pytest.mark.parametrize("kind", sorted(WRITTEN))
def test_labels_read_the_typed_fields(kind):
    assert suspect_label(kind, WRITTEN[kind]) == LABELS[kind]


def test_every_family_beyond_the_paper_has_a_label_case():
    assert set(BEYOND_PAPER) <= set(WRITTEN)


def test_the_typed_view_keeps_the_values_and_their_types():
    assert MemberHyper.of({"queries": 100.0}).queries == 100   # a whole count, written as float
    h = MemberHyper.of(WRITTEN["distill"])
    assert h.student == "lenet" and h.temperature == 4.0 and isinstance(h.temperature, float)
    assert h.agreement == 0.97 and h.queries is None and h.p is None
    known = {f.name for f in dataclasses.fields(MemberHyper)}
    assert "alpha" not in known   # recorded for the reader of member.json, not read by the suite


def test_pruning_levels_and_order_come_from_the_typed_view():
    assert level_of("wp", WRITTEN["wp"]) == 0.3 and level_of("fp", WRITTEN["fp"]) == 0.1875
    assert level_of("wp", {}) == 0.0 and level_of("ftll", WRITTEN["wp"]) is None
    assert zoo_order("wp", {"p": 0.5}, "small_cnn") > zoo_order("wp", {"p": 0.1}, "small_cnn")


@pytest.mark.parametrize(("key", "value"), [("queries", "many"), ("queries", True),
                                            ("temperature", "hot"), ("api", 3), ("p", None)])
def test_a_mistyped_value_is_refused_by_name(key, value):
    if value is None:   # an absent value is not an error: the field reads as None
        assert getattr(MemberHyper.of({key: value}), key) is None
        return
    with pytest.raises(IPGuardError, match=f"member hyper-parameter {key}="):
        MemberHyper.of({key: value})


def test_a_suspect_result_reads_its_hyper_through_the_view():
    s = SuspectResult("x", "positive", "extract_prob", "small_cnn", 0, 0.5,
                      hyper=WRITTEN["extract_prob"])
    assert (s.api, s.queries, s.agreement) == ("prob", 250, 0.8)
    with pytest.raises(IPGuardError, match="queries"):
        _ = SuspectResult("x", "positive", "extract_prob", "small_cnn", 0, 0.5,
                          hyper={"queries": 2.5}).queries
