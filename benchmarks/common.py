"""What the training benchmarks share: the zoo's configs composed as ``python -m train.zoo``
composes them, CIFAR-shaped data made up on the spot (real CIFAR cannot be downloaded on this
project's machines; the timing of a training does not depend on what the pixels show), and a
digest of a network's weights. Not a benchmark itself."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from safetensors.torch import save
from torch import nn

from ipguard.app.config import CONF_DIR, register, typed
from ipguard.data import ImageData
from ipguard.data.cifar import PixelImages, RandomCropFlip
from train.schema import TrainConfig


def train_config(overrides: list[str], root: str | Path | None = None) -> TrainConfig:
    """``conf/train.yaml`` with ``overrides``, its folders inside ``root`` (a new temporary
    folder by default), W&B off."""
    root = Path(root or tempfile.mkdtemp(prefix="ipguard-bench-"))
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            "logger=none", f"paths.root_dir={root}", f"paths.output_dir={root}/out",
            *overrides])
    return typed(cfg, TrainConfig)


def random_cifar(train: int, test: int, classes: int = 10, seed: int = 0) -> ImageData:
    """CIFAR-10's shape and pipeline (uint8 images, the random crop and flip of
    ``ipguard.data.cifar``) over random pixels and labels."""
    gen = torch.Generator().manual_seed(seed)

    def images(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen),
                torch.randint(0, classes, (n,), generator=gen))

    x, y = images(train)
    xt, yt = images(test)
    return ImageData("cifar10", classes, (3, 32, 32), PixelImages(x, y), PixelImages(xt, yt),
                     train_augmented=RandomCropFlip(x, y))


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of the weights as the zoo stores them (safetensors of the state dict)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return hashlib.sha256(save(state)).hexdigest()


class OtherLoad:
    """How busy the machine was with other processes while a block ran, in cores (Linux:
    ``/proc/stat`` minus the CPU time of this process and of its children that ended); None
    where it cannot be read. Timings on a shared machine mean little without it."""

    def __enter__(self) -> OtherLoad:
        self.cores: float | None = None
        self._start = _busy_and_own()
        return self

    def __exit__(self, *_: object) -> None:
        end = _busy_and_own()
        if self._start is not None and end is not None:
            busy, own, wall = (b - a for a, b in zip(self._start, end, strict=True))
            self.cores = max(0.0, (busy - own) / wall) if wall > 0 else None

    def __str__(self) -> str:
        return "unknown" if self.cores is None else f"{self.cores:.2f} cores"


def _busy_and_own() -> tuple[float, float, float] | None:
    """(seconds of CPU every process used, seconds this process and its finished children
    used, wall seconds)."""
    import os
    import resource
    import time

    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    hz = os.sysconf("SC_CLK_TCK")
    own = sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))
    return (sum(ticks[:8]) - idle) / hz, own, time.monotonic()
