"""Members per second of grouped training (``python -m train.zoo group_size=N``, train.group):
N members of one architecture trained at once, stacked and vmapped, against one at a time.

    python benchmarks/group_training.py [--sizes 1,4,16] [--epochs 2] [--resnet-images 0]
    python benchmarks/group_training.py --device cuda --sizes 1,4,16,64 --resnet-images 50000

Times the training only (train.group.GroupModule through the zoo's Lightning trainer; no test
accuracy, no saving): the digits small CNN for ``--epochs`` epochs of the digits training set,
and, with ``--resnet-images`` > 0, ResNet20 for one epoch of that many CIFAR-shaped random
images (the real augmentation). Group size 1 is the single path (train.module). Prints seconds
and members per second (members x epochs / seconds, per epoch of the member's data)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import hydra
import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OtherLoad, random_cifar, train_config  # noqa: E402

from ipguard.zoo import build_from_spec  # noqa: E402
from train.fit import Fitter  # noqa: E402
from train.group import fit_group  # noqa: E402


def run(cfg, data, size: int, epochs: int, device: str) -> float:  # noqa: ANN001
    """Seconds to train ``size`` same-architecture members (seeds 1..size)."""
    recipe = cfg.zoo.target.recipe
    recipe.epochs = epochs
    trainer = dict(cfg.trainer)
    if device == "cuda":
        trainer |= {"accelerator": "gpu", "precision": "bf16-mixed", "deterministic": False}
    fitter = Fitter(data, tempfile.mkdtemp(prefix="ipguard-group-bench-"), trainer,
                    checkpoint_every=0)
    models, rng = [], []
    for seed in range(1, size + 1):
        L.seed_everything(seed, verbose=False)
        models.append(build_from_spec(cfg.zoo.target.model))
        rng.append(torch.get_rng_state())
    start = time.perf_counter()
    if size == 1:
        fitter.fit(models[0], recipe, 1, "single")
    else:
        fit_group(fitter, models, recipe, list(range(1, size + 1)), [str(s) for s in range(size)],
                  rng, "group")
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16")
    parser.add_argument("--epochs", type=int, default=2, help="digits epochs per member")
    parser.add_argument("--resnet-images", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"threads {torch.get_num_threads()}, torch {torch.__version__}, device {args.device}")
    cases = [("digits small CNN", ["dataset=digits"], None, args.epochs)]
    if args.resnet_images:
        cases.append((f"ResNet20, {args.resnet_images} images",
                      ["cpu=cifar10", "trainer.precision=32-true"],
                      random_cifar(args.resnet_images, 100), 1))
    print(f"{'model':28s} {'group':>5s} {'seconds':>8s} {'members/s':>10s} {'speed-up':>8s}")
    for title, overrides, data, epochs in cases:
        cfg = train_config([*overrides, "logger=none"])
        data = data if data is not None else hydra.utils.call(cfg.dataset.loader)
        base = None
        with OtherLoad() as load:
            for size in sizes:
                seconds = run(cfg, data, size, epochs, args.device)
                rate = size / seconds
                base = base or rate
                print(f"{title:28s} {size:5d} {seconds:8.2f} {rate:10.3f} {rate / base:7.2f}x",
                      flush=True)
        print(f"{'':28s} ({epochs} epoch(s) a member; other processes used {load})")


if __name__ == "__main__":
    main()
