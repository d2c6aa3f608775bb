"""A network that trains to chance is not a model of its family: it is retrained with the next
seed, recorded in member.json and listed in the build's log; one that never trains stops the
build with an error that names every seed tried."""

from __future__ import annotations

import logging

import pytest

from ipguard.utils.errors import IPGuardError
from train.builders.network import RETRY_OFFSET, trained_to_chance
from train.fit import Fitter, Trained
from train.zoo import build_zoo

from conftest import compose_cfg
from helpers import MICRO_ZOO, member_json


def _at_chance_for(monkeypatch, bad_seeds: set[int]) -> None:
    """Fitter.fit as it is, but a member trained with one of ``bad_seeds`` measures 5 %."""
    real = Fitter.fit

    def fit(self, model, recipe, seed, name, *args, **kwargs):
        trained = real(self, model, recipe, seed, name, *args, **kwargs)
        return Trained(trained.seconds, 0.05) if seed in bad_seeds else trained

    monkeypatch.setattr(Fitter, "fit", fit)


def test_chance_is_one_and_a_half_times_a_guess():
    assert trained_to_chance(0.106, 10) and not trained_to_chance(0.2, 10)
    assert not trained_to_chance(None, 10) and trained_to_chance(0.01, 100)


def test_a_member_at_chance_is_retrained_with_the_next_seed_and_listed(monkeypatch, tmp_path,
                                                                       caplog):
    _at_chance_for(monkeypatch, {1})
    with caplog.at_level(logging.WARNING):
        build_zoo(compose_cfg("train", [*MICRO_ZOO, "member=same_arch", "logger=none"],
                              tmp_path))
    member = member_json(tmp_path / "zoo" / "digits" / "negative" / "same_arch-s1")
    assert member["seed"] == 1 + RETRY_OFFSET and member["test_accuracy"] > 0.15
    assert member["hyper"]["retrained"] == [{"seed": 1, "test_accuracy": 0.05}]
    assert "same_arch-s1 trained to chance" in caplog.text
    assert f"same_arch-s1 (now seed {1 + RETRY_OFFSET}" in caplog.text


def test_a_member_that_never_trains_stops_the_build(monkeypatch, tmp_path):
    _at_chance_for(monkeypatch, {1, 1 + RETRY_OFFSET, 1 + 2 * RETRY_OFFSET})
    with pytest.raises(IPGuardError, match=r"same_arch-s1 trained to chance with every seed "
                                           r"tried \(seed 1: 0.050, seed 100001"):
        build_zoo(compose_cfg("train", [*MICRO_ZOO, "member=same_arch", "logger=none"],
                              tmp_path))


def test_the_check_is_off_for_smoke_runs_and_fast_dev_run(monkeypatch, tmp_path):
    _at_chance_for(monkeypatch, {1})
    build_zoo(compose_cfg("train", [*MICRO_ZOO, "member=same_arch", "logger=none",
                                    "retrain_at_chance=false"], tmp_path))
    member = member_json(tmp_path / "zoo" / "digits" / "negative" / "same_arch-s1")
    assert member["seed"] == 1 and "retrained" not in member["hyper"]
