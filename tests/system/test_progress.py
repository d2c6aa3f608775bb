"""Progress of long work (docs/design.md, "Progress"): a bar on a terminal, plain periodic log lines
elsewhere, nothing when off; for extraction (points still active, CW-L2's search step) and for a zoo
build (member i/N with the time left)."""

from __future__ import annotations

import io
import logging
import re
import sys
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import ipguard.utils.progress
from ipguard.core.extract import extract
from ipguard.core.methods import CWL2, IPGuard
from ipguard.utils.progress import Progress

from conftest import compose_cfg
from helpers import MICRO_ZOO

N = 16
MEMBER_DONE = re.compile(r"\[(\d)/3\] (\S+) \(negative\): test accuracy [\d.]+, trained in "
                         r"[\d.]+s; elapsed \d\d:\d\d, ETA (\d\d:\d\d)$")


def _target() -> nn.Module:
    """A 4-class linear model on 1x3x3 inputs whose points need 28 to 73 IPGuard steps."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(9, 4))
    with torch.no_grad():
        model[1].weight.mul_(10)
    return model


def _extract(method=None):
    method = method or IPGuard(k=0.5, lr=0.01, max_iter=100)
    return extract(_target(), method, init="random", n=N, input_shape=(1, 3, 3))


def _lines(caplog, logger: str = "ipguard.utils.progress") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


@pytest.fixture()
def quiet_env(monkeypatch):
    for name in (ipguard.utils.progress.MODE_ENV, ipguard.utils.progress.INTERVAL_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# ----------------------------------------------------------------------------- extraction
def test_extraction_draws_a_bar_of_the_points_still_active_on_a_terminal(quiet_env, capsys,
                                                                         caplog):
    quiet_env.setenv("IPGUARD_PROGRESS", "bar")
    quiet_env.setattr(ipguard.utils.progress, "BAR_REFRESH", 0.0)   # draw every iteration
    caplog.set_level(logging.INFO)
    fp = _extract()
    err = capsys.readouterr().err
    frames = [f for f in err.split("\r") if "active=" in f]
    assert all(f.startswith(f"extract IPGuard-RL n={N}:") for f in frames)
    shown = {int(k): int(a) for k, a in (re.search(r" (\d+)/100 .*active=(\d+)", f).groups()
                                         for f in frames)}
    steps = fp.stats["iterations"]
    assert sorted(shown) == list(range(1, int(steps.max()) + 1))   # every iteration drawn
    # Iteration k works on every point that has not stopped before it: those with >= k-1 steps
    # (a point is checked once more after its last step).
    assert shown == {k: int((steps >= k - 1).sum()) for k in shown}
    assert shown[1] == N and shown[max(shown)] < N
    assert not _lines(caplog)                       # a bar, not log lines


def test_extraction_logs_plain_lines_when_stderr_is_not_a_terminal(quiet_env, caplog):
    stderr = io.StringIO()                          # auto mode: not a tty, so log lines
    quiet_env.setattr(sys, "stderr", stderr)
    quiet_env.setenv("IPGUARD_PROGRESS_INTERVAL", "0")
    caplog.set_level(logging.INFO)
    fp = _extract()
    lines = _lines(caplog)
    last = int(fp.stats["iterations"].max())
    assert len(lines) == last + 1                   # one per iteration at interval 0, and done
    assert lines[0].startswith(f"extract IPGuard-RL n={N}: 1/100 it (1%), active={N}, elapsed ")
    assert "ETA" in lines[0] and lines[-1].startswith(f"extract IPGuard-RL n={N}: done, {last}/")
    assert not any("\r" in line or "\n" in line for line in lines)
    assert stderr.getvalue() == ""                  # no bar drawn


def test_log_lines_come_once_per_interval_with_the_time_left(quiet_env, caplog):
    now = iter(range(10**6))
    quiet_env.setattr(ipguard.utils.progress, "time", SimpleNamespace(monotonic=lambda: next(now)))
    quiet_env.setenv("IPGUARD_PROGRESS_INTERVAL", "10")
    caplog.set_level(logging.INFO)
    with Progress("work", total=100, unit="step", mode="log") as progress:
        for k in range(100):                        # one second per update on the fake clock
            progress.update(1, k=k)
    lines = _lines(caplog)
    assert len(lines) == 11                         # at 10 s, 20 s, ... 100 s, then done
    assert lines[0] == "work: 10/100 step (10%), k=9, elapsed 00:10, ETA 01:30"
    assert lines[-1] == "work: done, 100/100 step (100%), k=99, elapsed 01:41"


def test_cw_shows_its_binary_search_step(quiet_env, caplog):
    quiet_env.setenv("IPGUARD_PROGRESS", "log")
    quiet_env.setenv("IPGUARD_PROGRESS_INTERVAL", "0")
    caplog.set_level(logging.INFO)
    _extract(CWL2(k=0.5, binary_search_steps=3, max_iter=20))
    lines = _lines(caplog)
    steps = [re.search(r"step=(\d)/3", line).group(1) for line in lines]
    assert sorted(set(steps)) == ["1", "2", "3"] and steps == sorted(steps)
    assert lines[-1].startswith(f"extract CW-L2-RL n={N}: done, 60/60 it")  # aborts counted


def test_off_is_silent_and_no_mode_changes_the_fingerprint(quiet_env, capsys, caplog):
    caplog.set_level(logging.INFO)
    shown = {}
    for mode in ("off", "bar", "log"):
        quiet_env.setenv("IPGUARD_PROGRESS", mode)
        quiet_env.setenv("IPGUARD_PROGRESS_INTERVAL", "0")
        shown[mode] = (_extract(), capsys.readouterr().err, len(_lines(caplog)))
        caplog.clear()
    ref = shown["off"][0]
    assert shown["off"][1:] == ("", 0)
    assert shown["bar"][1] and shown["log"][2]
    for fp, _, _ in shown.values():
        assert torch.equal(fp.x, ref.x) and torch.equal(fp.y, ref.y)
        assert torch.equal(fp.stats["iterations"], ref.stats["iterations"])


# ----------------------------------------------------------------------------- zoo build
def _build_negatives(root):
    from train.zoo import build_zoo

    return build_zoo(compose_cfg("train", [*MICRO_ZOO, "logger=none", "member=negatives"], root))


def test_zoo_build_logs_member_i_of_n_with_eta_and_training_lines(quiet_env, tmp_path, capsys,
                                                                  caplog):
    quiet_env.setenv("IPGUARD_PROGRESS", "log")
    quiet_env.setenv("IPGUARD_PROGRESS_INTERVAL", "0")
    caplog.set_level(logging.INFO)
    _build_negatives(tmp_path)
    members = _lines(caplog, "train.build")
    done = [MEMBER_DONE.match(line) for line in members]
    assert [(m.group(1), m.group(2)) for m in done if m] == [
        ("1", "same_arch-s1"), ("2", "lenet-s0"), ("3", "forest-s0")]
    assert "[1/3] same_arch-s1 (negative): training 4 epochs" in members
    assert next(m for m in done if m).group(3) != "?" and done[-1].group(3) == "00:00"
    training = [line for line in _lines(caplog) if line.startswith("train same_arch-s1: ")]
    assert len(training) > 4 and "epoch=4/4" in training[-1]
    assert re.match(r"train same_arch-s1: 1/\d+ batch \(\d+%\), epoch=1/4, elapsed", training[0])
    out = capsys.readouterr()
    assert "\r" not in out.out + out.err            # no bar, Lightning's included

    caplog.clear()
    _build_negatives(tmp_path)                      # a rerun finds every member built
    assert [line.split(";")[0] for line in _lines(caplog, "train.build")] == [
        "[1/3] same_arch-s1 (negative): already built", "[2/3] lenet-s0 (negative): already built",
        "[3/3] forest-s0 (negative): already built"]


def test_zoo_build_on_a_terminal_shows_lightnings_bar(quiet_env, tmp_path, capsys, caplog):
    quiet_env.setenv("IPGUARD_PROGRESS", "bar")
    caplog.set_level(logging.INFO)
    _build_negatives(tmp_path)
    out = capsys.readouterr().out                   # Lightning draws on stdout
    assert "\r" in out and re.search(r"Epoch 3: 100%.*\| \d+/\d+", out)
    assert sum(bool(MEMBER_DONE.match(line)) for line in _lines(caplog, "train.build")) == 3
    assert not _lines(caplog)                       # no training log lines under a bar


def test_an_interrupted_run_says_stopped_not_done(caplog, monkeypatch):
    """A training cut off by an error or a SLURM time limit must not read as finished."""
    import logging

    from ipguard.utils.progress import Progress

    monkeypatch.setenv("IPGUARD_PROGRESS_INTERVAL", "0")
    caplog.set_level(logging.INFO, logger="ipguard.utils.progress")
    with pytest.raises(KeyboardInterrupt), Progress("train x", 10, "batch", mode="log") as bar:
        bar.update(3)
        raise KeyboardInterrupt
    with Progress("train y", 10, "batch", mode="log") as bar:
        bar.update(4)
    assert "train x: stopped, 3/10" in caplog.text and "train x: done" not in caplog.text
    assert "train y: done, 4/10" in caplog.text
