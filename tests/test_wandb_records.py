"""Reading a .wandb run file that W&B is still writing never raises: a zoo build polls it."""

import logging

import pytest

from ipguard.tracking import Tracker, wait_until_written
from ipguard.wandb_records import find_run_file, iter_record_bytes, read_records


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wb")
    tracker = Tracker(mode="offline", dir=folder, project="ipguard-test", name="t")
    tracker.summary({"aruc": 0.5})
    tracker.finish()
    return find_run_file(folder)


def test_every_truncation_of_a_run_file_reads_without_error(run_file, tmp_path):
    data = run_file.read_bytes()
    whole = len(list(iter_record_bytes(run_file)))
    cut = tmp_path / "cut.wandb"
    for size in range(7, len(data), max(1, len(data) // 97)):
        cut.write_bytes(data[:size])
        records = read_records(cut)  # only complete records, never a DecodeError
        assert len(records) <= whole


def test_waiting_on_a_truncated_file_times_out_with_a_warning(run_file, tmp_path, caplog):
    cut = tmp_path / "cut.wandb"
    cut.write_bytes(run_file.read_bytes()[:200])
    with caplog.at_level(logging.WARNING):
        assert wait_until_written(cut, timeout=0.3) is False
    assert "no exit record" in caplog.text
    assert wait_until_written(run_file, timeout=5) is True
