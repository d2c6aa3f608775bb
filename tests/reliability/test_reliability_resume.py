"""Resumable training (docs/reliability.md, section 4): a member whose training is interrupted
resumes from its last Lightning checkpoint (``<zoo>/.partial/<member>/last.ckpt``) and ends with the
weights an uninterrupted training gives, bit for bit; a checkpoint of another recipe, or an
unreadable one, is not resumed."""

from __future__ import annotations

import time

import pytest
import torch
from safetensors.torch import load_file

from helpers import MICRO_ZOO, epoch_hook, member_json, micro_zoo


def test_interrupted_training_resumes_from_its_checkpoint_bit_for_bit(tmp_path, caplog):
    """In-process: the target's training fails after epoch 2 of 4; the rerun resumes at epoch 3
    (not epoch 1) and ends with the clean build's weights, and its seconds cover both runs:
    the checkpoint carries the seconds trained so far, and the member records those plus the
    rerun's own."""
    from train.module import LastCheckpoint, read_checkpoint
    from train.zoo import build_zoo

    from conftest import compose_cfg

    cfg = compose_cfg("train", [*MICRO_ZOO, "member=target"], tmp_path)
    epochs: list[int] = []
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="power cut"), epoch_hook(epochs, crash_after=2):
        build_zoo(cfg)
    first_run = time.perf_counter() - start
    ckpt = tmp_path / "zoo" / "digits" / ".partial" / "target" / "last.ckpt"
    assert ckpt.is_file() and not (tmp_path / "zoo" / "digits" / "target").exists()
    state = read_checkpoint(ckpt)
    saved = state["callbacks"][LastCheckpoint.__qualname__]
    assert 0 < saved["seconds"] < first_run  # the two epochs' time, within the crashed run
    # Say the first run trained 1,000 s: only a sum of both runs' seconds can exceed that
    before = saved["seconds"] = 1000.0
    torch.save(state, ckpt)

    caplog.set_level("INFO", logger="train.fit")
    start = time.perf_counter()
    with epoch_hook(epochs):
        build_zoo(cfg)
    rerun = time.perf_counter() - start
    assert epochs == [0, 1, 2, 3]  # epochs 0-1 before the crash, 2-3 after: none repeated
    assert "resuming target from its checkpoint after epoch 2" in caplog.text
    mine = load_file(tmp_path / "zoo" / "digits" / "target" / "target" / "weights.safetensors")
    ref = load_file(micro_zoo() / "target" / "target" / "weights.safetensors")
    assert all(torch.equal(mine[k], ref[k]) for k in ref)
    assert not ckpt.parent.parent.exists()  # the checkpoint goes once the member is complete
    seconds = member_json(tmp_path / "zoo" / "digits" / "target" / "target")["train_seconds"]
    assert before < seconds < before + rerun  # the checkpoint's seconds plus the rerun's


def test_checkpoint_of_another_recipe_is_not_resumed(tmp_path, caplog):
    """A recipe changed between runs restarts that member from epoch 0 instead of mixing two
    trainings; an unreadable checkpoint does the same."""
    from train.zoo import build_zoo

    from conftest import compose_cfg

    epochs: list[int] = []

    def run(overrides: list[str], crash_at: int | None = None, member: str = "target") -> None:
        with epoch_hook(epochs, crash_after=crash_at):
            build_zoo(compose_cfg("train", [*MICRO_ZOO, f"member={member}", *overrides],
                                  tmp_path))

    caplog.set_level("WARNING", logger="train.fit")
    with pytest.raises(RuntimeError):
        run([], crash_at=2)
    epochs.clear()
    run(["zoo.target.recipe.lr=0.01"])
    assert "belongs to another training" in caplog.text
    assert epochs == [0, 1, 2, 3]

    ckpt = tmp_path / "zoo" / "digits" / ".partial" / "target" / "last.ckpt"
    with pytest.raises(RuntimeError):
        run([], crash_at=1, member="ftll")  # a positive interrupted after its checkpoint...
    ftll = ckpt.parent.parent / "ftll" / "last.ckpt"
    ftll.write_bytes(ftll.read_bytes()[:100])  # ...which is then truncated
    epochs.clear()
    run([], member="ftll")
    assert "cannot be resumed" in caplog.text and epochs == [0]
    assert (tmp_path / "zoo" / "digits" / "positive" / "ftll" / "member.json").is_file()
