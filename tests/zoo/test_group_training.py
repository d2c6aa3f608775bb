"""Grouped training (``group_size``; docs/zoos.md, "Training speed"): members of a seeded family
trained together, stacked and vmapped (train.group), end with the weights each gets trained alone,
and a group killed in training resumes from its checkpoint and ends as an uninterrupted group does.

Tolerance: a member trained in a group sees the same initialisation, the same batches in the
same order and the same optimiser and schedule as alone; only the kernels differ (a vmapped
convolution runs as one grouped convolution, its backward sums in another order), so weights
agree to float rounding amplified by training, not bit for bit. Adam divides by the square
root of the second moment, so a weight whose gradient is near zero can take a step of the
full learning rate either way on a rounding difference: after 3 epochs at lr 0.002 the largest
difference measured was 1.2e-4 (on weights of magnitude ~0.4), the whole weight vector differed
by at most 6e-5 of its norm, and the test accuracies agreed. The bounds below
(2e-3 per weight, 1e-3 of the norm, one test image) leave that margin and would catch any
real difference (another batch order or initialisation moves weights by ~0.1)."""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import compose_cfg
from helpers import epoch_hook, member_json

GROUP = ["threads=1", "checkpoint_min_seconds=0", "member=same_arch",
         "zoo.target.recipe.epochs=3", "zoo.negatives.same_arch.count=3", "logger=none"]
NAMES = ("same_arch-s1", "same_arch-s2", "same_arch-s3")
_ROOTS: list[Path] = []


@functools.cache
def _built(group_size: int) -> Path:
    """The three same-architecture negatives built with ``group_size``; the zoo's folder."""
    from train.zoo import build_zoo

    root = Path(tempfile.mkdtemp(prefix=f"ipguard-group{group_size}-"))
    _ROOTS.append(root)
    build_zoo(compose_cfg("train", [*GROUP, f"group_size={group_size}"], root))
    return root / "zoo" / "digits"


def _weights(zoo: Path, name: str) -> dict[str, torch.Tensor]:
    return load_file(zoo / "negative" / name / "weights.safetensors")


def test_member_trained_in_a_group_matches_it_trained_alone():
    alone, grouped = _built(1), _built(3)
    for name in NAMES:
        a, g = _weights(alone, name), _weights(grouped, name)
        assert a.keys() == g.keys()
        worst = max(float((a[k] - g[k]).abs().max()) for k in a)
        flat_a = torch.cat([a[k].flatten() for k in a])
        flat_g = torch.cat([g[k].flatten() for k in a])
        relative = float((flat_a - flat_g).norm() / flat_a.norm())
        assert worst <= 2e-3 and relative <= 1e-3, (name, worst, relative)
        ja = member_json(alone / "negative" / name)
        jg = member_json(grouped / "negative" / name)
        assert abs(ja["test_accuracy"] - jg["test_accuracy"]) <= 1 / 360 + 1e-9, name
        same = ("name", "role", "kind", "arch", "seed", "parameters", "model", "hyper")
        assert {k: ja[k] for k in same} == {k: jg[k] for k in same}, name
    assert not (grouped / ".partial").exists()


def test_killed_group_resumes_and_ends_like_an_uninterrupted_group(tmp_path, caplog):
    """The group fails after epoch 2 of 3 (after its checkpoint); the rerun resumes the group
    at epoch 3 and ends with the uninterrupted group's weights, bit for bit."""
    from train.zoo import build_zoo

    cfg = compose_cfg("train", [*GROUP, "group_size=3"], tmp_path)
    epochs: list[int] = []
    with pytest.raises(RuntimeError, match="power cut"), epoch_hook(epochs, crash_after=2):
        build_zoo(cfg)
    zoo = tmp_path / "zoo" / "digits"
    partial = zoo / ".partial" / "group-same_arch-s1-same_arch-s3" / "last.ckpt"
    assert partial.is_file() and not (zoo / "negative").exists()

    caplog.set_level("INFO", logger="train.fit")
    with epoch_hook(epochs):
        build_zoo(cfg)
    assert epochs == [0, 1, 2]   # none repeated
    assert "resuming group-same_arch-s1-same_arch-s3 from its checkpoint after epoch 2" \
        in caplog.text
    reference = _built(3)
    for name in NAMES:
        mine, ref = _weights(zoo, name), _weights(reference, name)
        assert all(torch.equal(mine[k], ref[k]) for k in ref), name
    assert not (zoo / ".partial").exists()


def teardown_module() -> None:
    for root in _ROOTS:
        shutil.rmtree(root, ignore_errors=True)
