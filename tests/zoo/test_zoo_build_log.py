"""A zoo build's log says each thing once: the offline W&B runs of its members (one per trained
member) are announced by one ``wandb sync`` line for all of them, when the build ends and when
it fails part-way, not by one line per member."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from train.offline_runs import sync_hint, sync_paths

from conftest import compose_cfg
from helpers import MICRO_ZOO, epoch_hook

# same_arch-s1 and lenet-s0 train (one W&B run each), forest-s0 has no run
NEGATIVES = [*MICRO_ZOO, "member=negatives", "logger=wandb"]


def _sync_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "wandb sync" in r.getMessage()]


def test_a_build_says_once_how_to_upload_all_its_offline_runs(tmp_path, caplog):
    from train.zoo import build_zoo

    caplog.set_level(logging.INFO)
    build_zoo(compose_cfg("train", NEGATIVES, tmp_path))
    folder = tmp_path / "out" / "wandb"
    assert len(list(folder.glob("offline-run-*"))) == 2
    assert _sync_lines(caplog) == [
        f"W&B: this build's 2 offline runs: upload them with `wandb sync {folder}`"]
    assert [r.name for r in caplog.records if "wandb sync" in r.getMessage()] == ["train.build"]
    assert not any(r.getMessage().startswith("W&B offline run") for r in caplog.records)


def test_a_build_that_fails_part_way_still_says_it_once(tmp_path, caplog):
    from train.zoo import build_zoo

    caplog.set_level(logging.INFO)
    with epoch_hook([], crash_after=1), pytest.raises(RuntimeError, match="power cut"):
        build_zoo(compose_cfg("train", NEGATIVES, tmp_path))
    folder = tmp_path / "out" / "wandb"
    assert _sync_lines(caplog) == [
        f"W&B: this build's 1 offline run: upload it with `wandb sync {folder}`"]


def test_a_shared_wandb_folder_is_synced_run_by_run(tmp_path):
    """Where the W&B folder also holds another job's runs, the command names this build's run
    folders, so that it uploads nothing else."""
    mine = [tmp_path / "wandb" / f"offline-run-2026_{i}" for i in range(2)]
    other = tmp_path / "wandb" / "offline-run-2025_9"
    for run in (*mine, other):
        run.mkdir(parents=True)
    (tmp_path / "wandb" / "latest-run").symlink_to(mine[1])
    assert sync_paths(mine) == mine
    other.rmdir()
    assert sync_paths(mine) == [tmp_path / "wandb"]
    assert sync_hint([]) is None
    spaced = [Path(tmp_path / "my runs" / "offline-run-1")]
    spaced[0].mkdir(parents=True)
    assert sync_hint(spaced) == ("W&B: this build's 1 offline run: upload it with "
                                 f"`wandb sync '{tmp_path / 'my runs'}'`")
