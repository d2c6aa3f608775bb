"""Nothing lost in a sweep (docs/reliability.md, section 4): a real multirun of ``python -m
ipguard.bench`` killed with SIGKILL in the middle and started again ends with exactly the records a
clean run gives (the results store skips finished points), none duplicated or half-written."""

from __future__ import annotations

import json
import os
import random
import signal
import time

from ipguard.results.store import read_records_dir

from conftest import compose_cfg
from helpers import QUICK_BENCH, copy_zoo, entry

POINTS = ["1", "2", "3"]
SWEEP = ["-m", f"method.k={','.join(POINTS)}", *QUICK_BENCH]


def _numbers(record) -> dict:
    """What a record says about the sweep point (not when or where it ran)."""
    return {"key": record.key, "setting": record.setting.to_json(), "aruc": record.aruc,
            "auc": record.auc, "gap": record.gap, "effectiveness": record.effectiveness,
            "suspects": record.suspects, "points": record.extraction.points}


def test_sweep_killed_mid_way_and_rerun_gives_the_clean_records(tmp_path):
    from ipguard.app.bench import run_bench

    clean = tmp_path / "clean"
    zoo = copy_zoo(clean)
    for k in POINTS:  # the clean sweep, point by point in-process
        run_bench(compose_cfg("bench", [*QUICK_BENCH, f"method.k={k}", f"zoo_dir={zoo}"], clean))
    expected = [_numbers(r) for r in read_records_dir(clean / "results" / "digits" / "adhoc")]
    assert [r["key"] for r in expected] == [f"ipguard-TL-k={k}-n10-s0" for k in POINTS]

    root = tmp_path / "killed"
    copy_zoo(root)
    store = root / "results" / "digits" / "adhoc"
    proc = entry("ipguard.bench", SWEEP, root)
    deadline = time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline and not list(store.glob("*.json")):
        time.sleep(0.01)
    time.sleep(random.uniform(0.0, 1.0))  # somewhere in the second point
    assert proc.poll() is None, "the sweep finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    done = sorted(p.name for p in store.glob("*.json"))
    assert 1 <= len(done) < len(POINTS)
    for p in store.glob("*.json"):  # what is there is complete
        json.loads(p.read_text())

    rerun = entry("ipguard.bench", SWEEP, root)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err[-3000:]
    assert out.count("already done:") == len(done)  # finished points are not recomputed
    got = [_numbers(r) for r in read_records_dir(store)]
    assert got == expected
    assert sorted(p.name for p in store.iterdir()) == [f"{r['key']}.json" for r in expected]
