"""IPGuard's extraction (ipguard.core.methods.IPGuard: each iteration computes only the points still
active) against the simplest correct batched loop (every point through the model every
iteration until all have finished; finished points are just not moved), in the same run, at
k = 1 and k = 10, with a check that both give the same fingerprint.

    python benchmarks/extraction_batching.py [--zoo zoo/digits] [--n 100] [--repeats 3]

The target is a built zoo's target (default: the digits zoo of ``make demo``; a ResNet20 target
of ``python -m train.zoo cpu=cifar10`` works the same, ``--zoo zoo-cpu/cifar10``), with the
initial points and labels of the bench's default combo (init=train, label=least_likely)."""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import hydra
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OtherLoad, train_config  # noqa: E402

from ipguard.core.extract import extract  # noqa: E402
from ipguard.core.methods import IPGuard  # noqa: E402
from ipguard.core.methods.base import MethodOutput, adam_step, input_grad  # noqa: E402
from ipguard.core.methods.ipguard import boundary_loss  # noqa: E402
from ipguard.zoo import load_zoo  # noqa: E402


@dataclass(repr=False)
class EveryPoint(IPGuard):
    """IPGuard's update and stopping rule, every point forward and backward each iteration."""

    name = "ipguard_every_point"

    def __call__(self, model: nn.Module, x_init: torch.Tensor, i: torch.Tensor,
                 j: torch.Tensor, progress: object = None) -> MethodOutput:
        x = x_init.detach().clone().clamp_(0, 1)
        m, v = torch.zeros_like(x), torch.zeros_like(x)
        steps = torch.zeros(len(x), dtype=torch.long, device=x.device)
        active = torch.ones(len(x), dtype=torch.bool, device=x.device)
        while True:
            xa = x.clone().requires_grad_(True)
            loss = boundary_loss(model(xa), i, j, self.k)
            active &= (loss.detach() > 0) & (steps < self.max_iter)
            if not active.any():
                break
            grad = input_grad(loss, xa)
            sel = active.nonzero().squeeze(1)
            steps[sel] += 1
            t = steps[sel].view(-1, *([1] * (x.dim() - 1))).float()
            step = adam_step(m, v, sel, grad[sel], t, self.lr, self.betas, self.eps)
            x[sel] = (x[sel] - step).clamp_(0, 1)
        return MethodOutput(x=x.detach(), iterations=steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", default="zoo/digits")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--lr", type=float, default=None, help="default: the method's tuning")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg = train_config([f"dataset={args.dataset}"])
    data = hydra.utils.call(cfg.dataset.loader)
    train_x, _ = data.train_tensors()
    target = load_zoo(args.zoo).target.load_module().eval()
    for p in target.parameters():
        p.requires_grad_(False)
    print(f"threads {torch.get_num_threads()}, target {args.zoo} ({target.__class__.__name__}"
          f" of {type(getattr(target, 'net', target)).__name__}), n={args.n}")
    print(f"{'k':>4s} {'active only':>12s} {'every point':>12s} {'gain':>6s} {'mean iters':>10s}"
          "  same fingerprint")
    for k in (1.0, 10.0):
        extra = {"lr": args.lr} if args.lr else {}
        methods = (IPGuard(k=k, **extra), EveryPoint(k=k, **extra))
        seconds: dict[str, list[float]] = {m.name: [] for m in methods}
        prints = {}
        with OtherLoad() as load:
            for _ in range(args.repeats):
                for method in methods:
                    fp = extract(target, method, init="train", label="least_likely", n=args.n,
                                 train_x=train_x)
                    seconds[method.name].append(fp.meta.seconds)
                    prints[method.name] = fp
        a, b = (prints[m.name] for m in methods)
        same = torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
        detail = "yes" if same else f"no (max |dx| {float((a.x - b.x).abs().max()):.2e})"
        fast, slow = (statistics.median(seconds[m.name]) for m in methods)
        print(f"{k:4g} {fast:11.2f}s {slow:11.2f}s {slow / fast:5.2f}x "
              f"{a.meta.mean_iterations:10.1f}  {detail}   (other load {load})", flush=True)


if __name__ == "__main__":
    main()
