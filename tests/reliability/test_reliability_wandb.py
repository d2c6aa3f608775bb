"""W&B faults (docs/reliability.md, section 5): W&B failing to start, a bad API key, or W&B failing
mid-run never fails a bench job: the local record is complete, the job succeeds, a warning says what
happened. An offline run is complete on disk, ready for ``wandb sync`` later."""

from __future__ import annotations

import logging

import pytest

from ipguard.results.store import read_records_dir

from conftest import compose_cfg
from helpers import copy_zoo

BENCH = ["n=10", "threads=1", "logger=wandb", "logger.log_fingerprint=true"]


def _bench(tmp_path, caplog, extra=()):
    from ipguard.app.bench import run_bench

    zoo = copy_zoo(tmp_path)
    cfg = compose_cfg("bench", [*BENCH, f"zoo_dir={zoo}", *extra], tmp_path)
    caplog.set_level(logging.WARNING, logger="ipguard.results.tracking")
    record = run_bench(cfg).record
    stored = read_records_dir(tmp_path / "results" / "digits" / "adhoc")
    return record, stored


def _complete(record, stored) -> None:
    """The local results are all there: the store's record is the job's, with every suspect."""
    assert len(stored) == 1 and stored[0].key == record.key == "ipguard-TL-k=3-n10-s0"
    assert 0.0 <= stored[0].aruc <= 1.0 and len(stored[0].suspects) == 9
    assert stored[0].to_json() == record.to_json()


def test_wandb_that_cannot_start_leaves_local_results_complete(tmp_path, caplog, monkeypatch):
    import wandb

    def no_network(*args, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(wandb, "init", no_network)
    record, stored = _bench(tmp_path, caplog)
    _complete(record, stored)
    assert record.provenance.wandb is None
    assert "W&B init failed (ConnectionError: network is unreachable)" in caplog.text
    assert "local results are unaffected" in caplog.text


def test_wandb_failing_mid_run_leaves_local_results_complete(tmp_path, caplog, monkeypatch):
    from wandb.sdk import wandb_run, wandb_summary

    def broken(*args, **kwargs):
        raise RuntimeError("upload failed: 502 Bad Gateway")

    for cls, name in ((wandb_run.Run, "log"), (wandb_run.Run, "log_artifact"),
                      (wandb_summary.SummaryDict, "update")):
        monkeypatch.setattr(cls, name, broken)
    record, stored = _bench(tmp_path, caplog)
    _complete(record, stored)
    for what in ("summary", "table", "image", "artifact"):
        assert f"W&B {what} failed (RuntimeError: upload failed" in caplog.text


def test_wandb_failing_to_finish_leaves_local_results_complete(tmp_path, caplog, monkeypatch):
    from wandb.sdk import wandb_run

    def broken(*args, **kwargs):
        raise OSError("connection reset")

    monkeypatch.setattr(wandb_run.Run, "finish", broken)
    record, stored = _bench(tmp_path, caplog)
    _complete(record, stored)
    assert "W&B finish failed (OSError: connection reset)" in caplog.text


def test_bad_api_key_online_is_a_warning_not_a_failure(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_API_KEY", "bad")
    record, stored = _bench(tmp_path, caplog)
    _complete(record, stored)
    assert "W&B init failed" in caplog.text and "API key" in caplog.text


def test_offline_run_is_complete_on_disk_for_a_later_sync(tmp_path, caplog):
    from wandb_files import find_run_file, read_records, read_summary

    record, stored = _bench(tmp_path, caplog)
    _complete(record, stored)
    assert "failed" not in caplog.text
    run_file = find_run_file(tmp_path / "out")
    exits = [r.exit.exit_code for r in read_records(run_file)
             if r.WhichOneof("record_type") == "exit"]
    assert exits == [0]  # finished: `wandb sync <run folder>` uploads it as it is
    assert read_summary(run_file)["aruc"] == pytest.approx(record.aruc)
