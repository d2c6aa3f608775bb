"""Nothing lost (docs/reliability.md, section 4): a real ``python -m train.zoo`` killed with SIGKILL
at several moments and started again ends with exactly the members a clean build gives, bit for bit,
none duplicated or half-written; a member killed in training resumes from its checkpoint."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file

from ipguard.utils.errors import MissingZooError
from ipguard.zoo import load_zoo

from helpers import MICRO_MEMBERS, MICRO_ZOO, entry, member_json, micro_zoo

TIMINGS = ("train_seconds",)


def _members(zoo: Path) -> set[tuple[str, str]]:
    return {(p.parent.parent.name, p.parent.name) for p in zoo.glob("*/*/member.json")}


def _kill_when(root: Path, ready: Callable[[Path], bool], jitter: float) -> bool:
    """Run the micro zoo build and SIGKILL it once ``ready(zoo)`` holds (plus ``jitter``
    seconds); True if it was killed while still running."""
    proc = entry("train.zoo", MICRO_ZOO, root)
    zoo = root / "zoo" / "digits"
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if ready(zoo):
            time.sleep(jitter)
            break
        time.sleep(0.005)
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    return alive


def _complete_members_load(zoo: Path) -> None:
    """Whatever a kill left behind: every member.json present belongs to a loadable member."""
    try:
        members = load_zoo(zoo).members
    except MissingZooError:  # killed before the target was written
        assert not any(zoo.glob("target/*/member.json"))
        return
    x = torch.rand(3, 1, 8, 8)
    for m in members:
        assert m.load_classifier().predict(x).shape == (3,)


def test_zoo_build_killed_three_times_ends_like_a_clean_build(tmp_path):
    clean = micro_zoo()  # in-process, never interrupted
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    moments = [  # mid-training of the target (a checkpoint exists), then later stages
        lambda z: (z / ".partial" / "target" / "last.ckpt").is_file(),
        lambda z: (z / "positive" / "ftal" / "member.json").is_file(),
        lambda z: (z / "positive" / "fp-c01of16").is_dir() or (z / "negative").is_dir(),
    ]
    killed = 0
    for ready in moments:
        killed += _kill_when(tmp_path, ready, jitter=rng.uniform(0.0, 0.15))
        _complete_members_load(tmp_path / "zoo" / "digits")
    assert killed >= 2, f"the build finished before the kills (jitter seed {seed})"
    zoo = tmp_path / "zoo" / "digits"
    assert _members(zoo) != MICRO_MEMBERS, "nothing was left to do after the kills"

    final = entry("train.zoo", MICRO_ZOO, tmp_path)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err[-2000:]

    assert _members(zoo) == _members(clean) == MICRO_MEMBERS
    assert len(load_zoo(zoo).members) == len(MICRO_MEMBERS)  # none duplicated
    for role, name in MICRO_MEMBERS:
        a, b = member_json(clean / role / name), member_json(zoo / role / name)
        assert {k: v for k, v in a.items() if k not in TIMINGS} == \
            {k: v for k, v in b.items() if k not in TIMINGS}, name
        file = "forest.safetensors" if name.startswith("forest") else "weights.safetensors"
        wa, wb = load_file(clean / role / name / file), load_file(zoo / role / name / file)
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), name
    leftovers = [p for p in zoo.rglob("*") if p.name.startswith(".")]
    assert leftovers == [], f"temporary files or checkpoints left: {leftovers}"
