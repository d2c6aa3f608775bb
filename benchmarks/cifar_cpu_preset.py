"""The CIFAR CPU preset (``cpu=cifar10`` / ``cpu=cifar100``, docs/zoos.md) timed as a user runs
it: full-size CIFAR files in torchvision's on-disk format (50,000 training and 10,000 test
images, made up here because real CIFAR cannot be downloaded on this project's machines; the
preset keeps its stratified subset of them), then

    python -m train.zoo cpu=<dataset>       # the zoo
    python -m ipguard.bench cpu=<dataset>   # one bench point: the dataset's default method

each in its own process, as the README's commands run them.

    python benchmarks/cifar_cpu_preset.py [--dataset cifar10] [--root DIR] [--skip-zoo]
               [ZOO_OVERRIDE ...] [--bench OVERRIDE ...]   # Hydra overrides

Printed: the zoo's wall time and the other load on the machine meanwhile, then per family of
members how many were built, their training seconds (from each member's ``member.json``) and
test accuracies, then the bench point's wall, extraction and verification seconds and its ARUC.
Training time does not depend on what the pixels show, but how many pruning levels the 3 %
rule admits does: the made-up images are easier than CIFAR, so the rule may admit more levels
here than on real CIFAR (the per-level seconds are printed so the difference can be costed).
``--root`` keeps the files, zoo and results (a rerun resumes the zoo and skips writing data)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import OtherLoad  # noqa: E402
from test_datasets import write_cifar  # noqa: E402  (the tests' CIFAR-format writer)

FOLDER = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


def write_full_size(data: Path, dataset: str) -> None:
    """50,000 training and 10,000 test images in torchvision's format, unless already there."""
    if (data / FOLDER[dataset]).is_dir():
        print(f"data: reusing {data / FOLDER[dataset]}")
        return
    start = time.perf_counter()
    per_batch = 10_000 if dataset == "cifar10" else 50_000  # CIFAR-10: 5 batches
    write_cifar(data, dataset, per_batch=per_batch, test=10_000)
    print(f"data: wrote {data / FOLDER[dataset]} in {time.perf_counter() - start:.0f} s")


def timed(command: list[str], env: dict[str, str], log: Path) -> tuple[float, OtherLoad]:
    """Run ``command`` to the end (output to ``log``); its wall seconds and the other load."""
    start = time.perf_counter()
    with OtherLoad() as load, open(log, "w") as out:
        done = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}): see {log}")
    return seconds, load


def zoo_table(zoo: Path) -> None:
    rows: dict[str, list[dict]] = defaultdict(list)
    for file in sorted(zoo.glob("*/*/member.json")):
        member = json.loads(file.read_text())
        rows[f"{file.parent.parent.name}/{member['kind']}"].append(member)
    print(f"\n{'folder/kind':<22} {'built':>5} {'train s':>9} {'s each':>8}  test accuracy")
    total = 0.0
    for name, members in sorted(rows.items()):
        seconds = sum(m.get("train_seconds") or 0.0 for m in members)
        total += seconds
        accs = [m["test_accuracy"] for m in members if m.get("test_accuracy") is not None]
        acc = f"{min(accs):.3f}-{max(accs):.3f}" if accs else "n/a"
        print(f"{name:<22} {len(members):>5} {seconds:>9.0f} {seconds / len(members):>8.1f}  {acc}")
    print(f"{'all members':<22} {sum(map(len, rows.values())):>5} {total:>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(FOLDER), default="cifar10")
    parser.add_argument("--root", type=Path, default=None,
                        help="keep data, zoo and results here (default: a new temporary folder)")
    parser.add_argument("--skip-zoo", action="store_true", help="time the bench point only")
    parser.add_argument("--bench", nargs="*", default=[], metavar="OVERRIDE",
                        help="Hydra overrides for the bench point, e.g. n=10")
    parser.add_argument("overrides", nargs="*",
                        help="Hydra overrides for the zoo, e.g. trainer=cpu")
    args = parser.parse_args()
    root = (args.root or Path(tempfile.mkdtemp(prefix="ipguard-cifar-cpu-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    write_full_size(root / "data", args.dataset)
    env = {**os.environ, "IPGUARD_ROOT": str(root), "WANDB_MODE": "offline"}
    common = [f"cpu={args.dataset}", "dataset.loader.download=false", "logger=none"]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    print(f"root: {root}  (CPU threads: {os.cpu_count()})")
    if not args.skip_zoo:
        seconds, load = timed([sys.executable, "-m", "train.zoo", *common, *args.overrides,
                               f"hydra.run.dir={root}/outputs/zoo-{stamp}"], env,
                              root / "zoo.log")
        print(f"zoo: {seconds / 60:.1f} min wall (other load meanwhile {load})")
    zoo_table(root / "zoo-cpu" / args.dataset)
    bench_dir = root / "outputs" / f"bench-{stamp}"  # the bench writes its record there too
    seconds, load = timed([sys.executable, "-m", "ipguard.bench", *common, "force=true",
                           *args.bench, f"hydra.run.dir={bench_dir}"],
                          env, root / "bench.log")
    record = json.loads((bench_dir / "results.json").read_text())
    scores = record["scores"]["headline"] or {}
    print(f"\nbench point {record['key']}: {seconds:.0f} s wall (other load {load}); extraction "
          f"{record['extraction']['seconds']:.0f} s, verification {record['verify_seconds']:.0f} "
          f"s; ARUC {scores.get('aruc', float('nan')):.3f}")


if __name__ == "__main__":
    main()
