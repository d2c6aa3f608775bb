"""W&B without a network (docs/reliability.md, section 5): a real bench job configured for online
W&B, with an API key W&B accepts the shape of and a server that refuses connections (a closed local
port), finishes with its local results and exit code 0 within W&B's init timeout, warning once."""

from __future__ import annotations

import time

from ipguard.results.store import read_records_dir

from helpers import QUICK_BENCH, copy_zoo, entry, env

CLOSED_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens on it here


def test_online_wandb_with_no_server_does_not_fail_or_hang(tmp_path):
    copy_zoo(tmp_path)
    online = {**env(), "WANDB_MODE": "online", "WANDB_API_KEY": "x" * 40,
              "WANDB_BASE_URL": CLOSED_PORT}
    args = [a for a in QUICK_BENCH if not a.startswith("logger=")] + ["logger=wandb"]
    start = time.monotonic()
    proc = entry("ipguard.bench", args, tmp_path, env=online)
    out, err = proc.communicate(timeout=180)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, err[-3000:]
    assert seconds < 90, f"took {seconds:.0f}s"  # ~30 s of W&B's init timeout + the job
    logged = out + err  # Hydra's log handler writes to stdout
    assert "W&B init failed" in logged and "local results are unaffected" in logged
    assert logged.count("W&B") == 1, logged[-3000:]  # one warning, not one per call
    records = read_records_dir(tmp_path / "results" / "digits" / "adhoc")
    assert [r.key for r in records] == ["ipguard-TL-k=3-n10-s0"]
    assert records[0].provenance.wandb is None
    assert "ARUC =" in out
