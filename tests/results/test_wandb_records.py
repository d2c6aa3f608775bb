"""An offline W&B run file: the tracker waits until W&B's service has stopped writing it
(without parsing W&B's private format), and the tests' own reader never raises on a file that
is still being written."""

import logging
import threading
import time

import pytest

from ipguard.results.tracking import Tracker, wait_until_written

from wandb_files import find_run_file, iter_record_bytes, read_records


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
        records = read_records(cut, wait=0)  # only complete records, never a DecodeError
        assert len(records) <= whole


def test_the_finished_run_file_holds_its_exit_record(run_file):
    kinds = [r.WhichOneof("record_type") for r in read_records(run_file, wait=0)]
    assert "exit" in kinds  # finish_run waited: `wandb sync` right now uploads a whole run


def test_waiting_lasts_while_the_file_grows_and_ends_when_it_settles(tmp_path):
    growing = tmp_path / "run.wandb"
    growing.write_bytes(b"x")

    def grow() -> None:
        for _ in range(10):
            time.sleep(0.05)
            with open(growing, "ab") as fh:
                fh.write(b"x")

    writer = threading.Thread(target=grow)
    start = time.monotonic()
    writer.start()
    assert wait_until_written(growing, timeout=5, settle=0.2) is True
    writer.join()
    assert time.monotonic() - start >= 0.5 + 0.2  # waited for the writes, then settled
    assert growing.stat().st_size == 11


def test_a_file_that_never_settles_times_out_with_a_warning(tmp_path, caplog):
    missing = tmp_path / "none.wandb"
    with caplog.at_level(logging.WARNING):
        assert wait_until_written(missing, timeout=0.3) is False
    assert "still being written" in caplog.text
