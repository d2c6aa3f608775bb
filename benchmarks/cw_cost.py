"""What one CW-L2 fingerprint costs on this machine before a zoo exists: the seconds of one Adam
step of the authors' search (ipguard.core.methods.CWL2) for n points through a dataset's target
architecture, and from it the worst case of a bench point (binary_search_steps x max_iter steps,
no early abort) and of Figure 5's -TL and -TR over the paper's 18 values of k.

    python benchmarks/cw_cost.py [--dataset fashion_mnist] [--n 100] [--threads 1] [--steps 300]

The step's cost depends on the architecture, n and the machine, not on the weights, so the
target is built untrained from the dataset's zoo config; early abort makes real points cheaper
(on Fashion-MNIST a -TL point at k = 10 ran about 90,000 steps: 2,332 s at 26 ms a step on an AMX
machine), so the printed hours are an upper bound that real runs come close to at large k."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OtherLoad, train_config  # noqa: E402

from ipguard.core.methods import CWL2  # noqa: E402
from ipguard.zoo import build_from_spec  # noqa: E402

FIG5_POINTS = 2 * 18  # -TL and -TR over the paper's k grid (sweeps/fig5.yaml)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--n", type=int, default=100, help="points per fingerprint")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300, help="Adam steps timed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = train_config([f"dataset={args.dataset}"])
    shape = tuple(cfg.dataset.input_shape)
    model = build_from_spec(cfg.zoo.target.model).eval()
    x = torch.rand(args.n, *shape)
    with torch.no_grad():
        i = model(x).argmax(1)
    j = (i + 1) % cfg.dataset.num_classes
    full = CWL2()
    CWL2(k=10.0, binary_search_steps=1, max_iter=10, abort_early=False)(model, x, i, j)  # warm
    with OtherLoad() as load:
        start = time.perf_counter()
        CWL2(k=10.0, binary_search_steps=1, max_iter=args.steps, abort_early=False)(model, x, i, j)
        step = (time.perf_counter() - start) / args.steps
    worst = step * full.binary_search_steps * full.max_iter
    print(f"{args.dataset} target ({cfg.zoo.target.arch}), n = {args.n}, {args.threads} thread(s),"
          f" other load {load}")
    print(f"one Adam step: {step * 1000:.1f} ms")
    print(f"a point, {full.binary_search_steps} x {full.max_iter:,} steps: at most "
          f"{worst / 3600:.2f} h")
    print(f"Figure 5 -TL and -TR ({FIG5_POINTS} points): at most {FIG5_POINTS * worst / 3600:.0f}"
          " CPU-hours")


if __name__ == "__main__":
    main()
