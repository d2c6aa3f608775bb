"""Peak memory of verification as the zoo grows: 20 vs 80 digits members.

    python benchmarks/memory.py [--zoo zoo/digits] [--sizes 20 80] [--n 100]

Builds zoos of each size from an existing digits zoo (the target, its positives and negatives;
extra members are copies of the negatives under new names), then, in a fresh process per size:

* ``verify``: loads one fingerprint, resets the kernel's peak-RSS counter, verifies every
  suspect exactly as ``ipguard.bench`` does (one member loaded at a time), and reports the peak
  resident memory of that phase above the resident memory before it;
* ``bench``: the whole ``run_bench`` (extraction, verification, scoring, plot, record), and its
  peak resident memory.

Memory that stays flat from 20 to 80 members shows the zoo is streamed, not held."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import zip_longest
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- zoos
def make_zoo(source: Path, dest: Path, size: int) -> int:
    """A zoo of ``size`` members (target included) at ``dest``, from ``source``'s members;
    copies of negatives with new names make up the rest. Returns the number of suspects."""
    members = sorted(p.parent for p in source.glob("*/*/member.json")
                     if p.parent.parent.name != "rejected")
    target = [m for m in members if m.parent.name == "target"]
    positives = [m for m in members if m.parent.name == "positive"]
    negatives = [m for m in members if m.parent.name == "negative"]
    # alternate positives and negatives, so that a small zoo still has both
    suspects = [m for pair in zip_longest(positives, negatives) for m in pair if m is not None]
    if len(target) != 1 or not negatives:
        raise SystemExit(f"{source} is not a digits zoo with a target and negatives")
    chosen = target + suspects[: size - 1]
    for folder in chosen:
        shutil.copytree(folder, dest / folder.parent.name / folder.name)
    extra = size - len(chosen)
    for i in range(extra):
        src = negatives[i % len(negatives)]
        name = f"{src.name}-copy{i}"
        out = dest / "negative" / name
        shutil.copytree(src, out)
        meta = json.loads((out / "member.json").read_text())
        meta["name"] = name
        (out / "member.json").write_text(json.dumps(meta))
    return size - 1


# --------------------------------------------------------------------------- measuring
def _status(field: str) -> int:
    """A /proc/self/status field (VmRSS, VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child_verify(zoo_dir: Path, n: int) -> dict:
    import torch

    from ipguard.core.extract import extract
    from ipguard.core.methods import IPGuard
    from ipguard.core.verify import verify
    from ipguard.data import load_digits_data
    from ipguard.zoo import load_zoo

    torch.set_num_threads(1)
    zoo = load_zoo(zoo_dir)
    data = load_digits_data()
    fingerprint = extract(zoo.target.load_module(), IPGuard(k=3.0, lr=0.001), init="train",
                          label="least_likely", n=n, seed=0, train_x=data.train_tensors()[0],
                          input_shape=(1, 8, 8))
    verify(fingerprint, zoo.target.load_classifier())  # warm up the code paths once
    import gc

    gc.collect()
    reset = _reset_peak()
    before = _status("VmRSS")
    start = time.perf_counter()
    rates = []
    for member in zoo.suspects():  # what ipguard.bench does
        rates.append(verify(fingerprint, member.load_classifier()).matching_rate)
    seconds = time.perf_counter() - start
    return {"suspects": len(rates), "rss_before": before, "peak": _status("VmHWM"),
            "peak_reset": reset, "seconds": seconds}


def child_bench(zoo_dir: Path, n: int, root: Path) -> dict:
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from ipguard.app.bench import run_bench
    from ipguard.app.config import register

    register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="bench", overrides=[
            f"n={n}", "logger=none", "threads=1", f"zoo_dir={zoo_dir}"])
    with open_dict(cfg):
        cfg.paths.root_dir, cfg.paths.output_dir = str(root), str(root / "out")
    start = time.perf_counter()
    record = run_bench(cfg).record
    return {"suspects": len(record.suspects), "peak": _status("VmHWM"),
            "seconds": time.perf_counter() - start}


# --------------------------------------------------------------------------- driver
def run_child(mode: str, zoo_dir: Path, n: int, root: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "WANDB_MODE": "disabled"}
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--zoo", str(zoo_dir),
                          "--n", str(n), "--root", str(root)], cwd=REPO, env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{mode} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def mib(n: float) -> str:
    return f"{n / 2**20:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=REPO / "zoo" / "digits")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 80])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--child", choices=["verify", "bench"])
    parser.add_argument("--root", type=Path)
    args = parser.parse_args()
    if args.child == "verify":
        print(json.dumps(child_verify(args.zoo, args.n)))
        return
    if args.child == "bench":
        print(json.dumps(child_bench(args.zoo, args.n, args.root)))
        return

    rows = []
    with tempfile.TemporaryDirectory(prefix="ipguard-memory-") as tmp:
        for size in args.sizes:
            zoo_dir = Path(tmp) / f"zoo{size}" / "digits"
            suspects = make_zoo(args.zoo, zoo_dir, size)
            v = run_child("verify", zoo_dir, args.n, Path(tmp) / f"v{size}")
            b = run_child("bench", zoo_dir, args.n, Path(tmp) / f"b{size}")
            assert v["suspects"] == b["suspects"] == suspects
            rows.append((size, suspects, v, b))
    print(f"Peak resident memory (MiB), digits, n={args.n}, one thread, one process per row")
    print("members  suspects  RSS before verify  verify peak  verify growth  verify s"
          "  run_bench peak  run_bench s")
    for size, suspects, v, b in rows:
        growth = v["peak"] - v["rss_before"]
        print(f"{size:7d}  {suspects:8d}  {mib(v['rss_before']):>17}  {mib(v['peak']):>11}  "
              f"{mib(growth):>13}  {v['seconds']:8.2f}  {mib(b['peak']):>14}  "
              f"{b['seconds']:11.2f}")
    if not all(r[2]["peak_reset"] for r in rows):
        print("(the peak counter could not be reset here: verify peak includes extraction)")


if __name__ == "__main__":
    main()
