"""The zoo builder's framework tax: one member trained through ``train.build.ZooBuilder`` (as
``python -m train.zoo`` trains it: Lightning, CSV curves, checkpoints, test accuracy, FLOPs,
saving) and through a bare PyTorch loop, with the same recipe, seed and batches, in the same
process, alternating, ``--repeats`` times.

    python benchmarks/zoo_overhead.py [--repeats 3] [--threads 2] [--cifar-train 5000]

Members: the digits target (40 epochs) and a WP level (5 epochs) of the real digits zoo; a
ResNet20 for one epoch and a WP level of it for one epoch (the cpu=cifar10 recipes) on
CIFAR-shaped random data (``--cifar-train`` images, 32x32x3, the real augmentation).

Printed per member (medians over the repeats): the builder's whole member (``builder``), the
part of it inside its optimiser steps (``ClassifierModule.step_seconds``: forward, backward,
step, schedule, masks) and the share outside them
(set-up, data, checkpoints, test accuracy, FLOPs, saving), the bare loop (model built, batches,
steps; nothing evaluated or saved), the ratio builder / bare, and whether both ended with the
same weights (they should, bit for bit, in fp32 with the same threads). Goals
(docs/zoos.md, "Training speed"): ratio <= 1.10 and outside <= 10 %."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OtherLoad, random_cifar, train_config, weights_digest  # noqa: E402

from ipguard.data import ImageData  # noqa: E402
from ipguard.zoo import Member, build_from_spec, member_dir  # noqa: E402
from train.build import ZooBuilder  # noqa: E402
from train.datamodule import batches  # noqa: E402
from train.module import apply_masks, make_optimizer, make_schedule  # noqa: E402
from train.plan import MemberJob, plan  # noqa: E402
from train.postprocess import filter_pruning_masks, weight_pruning_masks  # noqa: E402
from train.schema import TrainConfig  # noqa: E402


class StepClock(L.Callback):
    """Seconds inside the optimiser steps of a zoo training (``ClassifierModule.step_seconds``:
    forward, backward, step, schedule, masks, curves)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.seconds += float(getattr(pl_module, "step_seconds", 0.0))


@dataclass
class Run:
    total: float
    steps: float
    digest: str


def through_builder(cfg: TrainConfig, data: ImageData, job: MemberJob) -> Run:
    """The member as ``python -m train.zoo`` builds it (its folder removed first)."""
    for role in (job.role, "rejected"):
        shutil.rmtree(member_dir(cfg.zoo_dir, role, job.name), ignore_errors=True)
    start = time.perf_counter()
    builder = ZooBuilder(cfg.zoo, data, cfg.zoo_dir, trainer=cfg.trainer,
                         log_dir=cfg.paths.log_dir, device=cfg.device,
                         checkpoint_every_n_epochs=cfg.checkpoint_every_n_epochs,
                         checkpoint_min_seconds=cfg.checkpoint_min_seconds)
    clock = StepClock()
    builder.fitter.callbacks.append(clock)
    member = builder.run(job)
    return Run(time.perf_counter() - start, clock.seconds, member.weights_sha256 or "")


def bare_loop(cfg: TrainConfig, data: ImageData, job: MemberJob) -> Run:
    """The simplest correct loop with the member's recipe: same initialisation (or target
    copy, pruned the same way), same batches, same optimiser, schedule and precision."""
    start = time.perf_counter()
    trainer, recipe = cfg.trainer, job.recipe
    assert recipe is not None
    masks: dict[str, torch.Tensor] = {}
    if job.derived:
        model = Member.load(member_dir(cfg.zoo_dir, "target", "target")).load_module().train()
        prune = weight_pruning_masks if job.kind == "wp" else filter_pruning_masks
        masks = prune(model, job.level)
        apply_masks(model, masks)
        L.seed_everything(job.seed, verbose=False)
    else:
        L.seed_everything(job.seed, verbose=False)
        model = build_from_spec(job.model or {})
    torch.use_deterministic_algorithms(bool(trainer.get("deterministic", False)))
    nhwc = bool(trainer.get("channels_last", False))
    if nhwc:
        model = model.to(memory_format=torch.channels_last)
    bf16 = str(trainer.get("precision", "32-true")).startswith("bf16")
    loader = batches(data.train_augmented or data.train, recipe.batch_size,
                     torch.Generator().manual_seed(job.seed))
    head = [p for n, p in model.named_parameters() if n.startswith(_head_prefix(model))]
    body = [p for p in model.parameters() if all(p is not q for q in head)]
    opt = make_optimizer(head, body, recipe)
    sched = make_schedule(opt, recipe, recipe.epochs * len(loader))
    steps = 0.0
    model.train()
    for _ in range(recipe.epochs):
        for x, y in loader:
            t0 = time.perf_counter()
            x = x.contiguous(memory_format=torch.channels_last) if nhwc else x
            with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else \
                    contextlib.nullcontext():
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            apply_masks(model, masks)
            steps += time.perf_counter() - t0
    total = time.perf_counter() - start
    return Run(total, steps, weights_digest(model))


def _head_prefix(model: torch.nn.Module) -> str:
    from ipguard.models.layers import last_linear

    return last_linear(model)[0] + "."


def cases(cifar_train: int, cifar_test: int) -> list[tuple[str, list[str], ImageData | None,
                                                          str]]:
    cifar = random_cifar(cifar_train, cifar_test)
    one_epoch = ["cpu=cifar10", "trainer.precision=32-true", "zoo.target.recipe.epochs=1"]
    return [
        ("digits target, 40 epochs", ["dataset=digits"], None, "target"),
        ("digits wp-p0.10, 5 epochs", ["dataset=digits"], None, "wp-p0.10"),
        (f"ResNet20, 1 epoch of {cifar_train}", one_epoch, cifar, "target"),
        (f"ResNet20 wp-p0.10, 1 epoch of {cifar_train}", one_epoch, cifar, "wp-p0.10"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="default: torch's (all)")
    parser.add_argument("--cifar-train", type=int, default=5000)
    parser.add_argument("--cifar-test", type=int, default=1000)
    parser.add_argument("--only", default=None, help="run the cases whose name has this")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"threads {torch.get_num_threads()}, torch {torch.__version__}, "
          f"repeats {args.repeats}")
    print(f"{'member':38s} {'builder':>8s} {'steps':>7s} {'outside':>8s} {'bare':>7s} "
          f"{'steps':>7s} {'ratio':>6s}  same weights")
    for title, overrides, data, name in cases(args.cifar_train, args.cifar_test):
        if args.only and args.only not in title:
            continue
        cfg = train_config(overrides)
        import hydra

        data = data if data is not None else hydra.utils.call(cfg.dataset.loader)
        jobs = {job.name: job for job in plan(cfg.zoo)}
        if jobs[name].derived:   # the target it starts from, built once, not timed
            ZooBuilder(cfg.zoo, data, cfg.zoo_dir, trainer=cfg.trainer).run(jobs["target"])
        built, bare = [], []
        with OtherLoad() as load:
            for _ in range(args.repeats):
                built.append(through_builder(cfg, data, jobs[name]))
                bare.append(bare_loop(cfg, data, jobs[name]))
        same = "yes" if built[0].digest == bare[0].digest else "no"
        for how, pick in (("min", min), ("median", statistics.median)):
            b = pick(r.total for r in built)
            s = pick(r.steps for r in built)
            loop = pick(r.total for r in bare)
            loop_steps = pick(r.steps for r in bare)
            print(f"{title + ' (' + how + ')':38s} {b:8.2f} {s:7.2f} {100 * (b - s) / b:7.1f}% "
                  f"{loop:7.2f} {loop_steps:7.2f} {b / loop:6.2f}  {same}", flush=True)
        print(f"{'':38s} other processes used {load} meanwhile")
        shutil.rmtree(Path(cfg.paths.root_dir), ignore_errors=True)


if __name__ == "__main__":
    main()
