"""Shared fixtures: configs composed with Hydra's compose API, and a tiny digits zoo built
once per session by the real builder (Lightning training, real files on disk)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from ipguard.app.config import config_error, register
from train.schema import register as register_train

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"

# Hermetic: the suite never reads the caller's W&B or ipguard settings (a logged-in user's
# WANDB_MODE=online, an empty WANDB_MODE, IPGUARD_ROOT, IPGUARD_DEBUG ...); tests that need one
# set it themselves. The CI switches for the SLURM tests are kept.
KEEP = ("IPGUARD_REQUIRE_SLURM", "IPGUARD_SLURM_")
for _name in [n for n in os.environ if n.startswith(("WANDB_", "IPGUARD_", "HYDRA_"))]:
    if not _name.startswith(KEEP):
        del os.environ[_name]
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
register()
register_train()

# Under pytest-xdist (`make test` runs one worker per core) each worker keeps to its share of
# the cores, and so do the commands it starts: torch processes that each spin OpenMP threads on
# every core slow each other down many times over (one test went from 1.5 s to 37 s).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
if _WORKERS > 1:
    import torch

    _CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    _THREADS = max(1, (_CORES or 1) // _WORKERS)
    torch.set_num_threads(_THREADS)
    os.environ["OMP_NUM_THREADS"] = str(_THREADS)

# Small enough to train in well under a minute on 2 CPU cores, large enough that the target
# converges (>= 0.95 test accuracy) and every member kind is present.
TINY_ZOO = [
    "logger=none",
    "zoo.target.recipe.epochs=20",
    "zoo.positives.finetune.ftll.epochs=2",
    "zoo.positives.finetune.ftal.epochs=2",
    "zoo.positives.finetune.rtll.epochs=4",
    "zoo.positives.finetune.rtal.epochs=4",
    "zoo.positives.wp.largest=0.2",
    "zoo.positives.wp.recipe.epochs=1",
    "zoo.positives.fp.largest=0.125",
    "zoo.positives.fp.recipe.epochs=1",
    "zoo.negatives.same_arch.count=3",
    "zoo.negatives.archs.lenet.count=1",
    "zoo.negatives.archs.lenet.recipe.epochs=10",
    "zoo.negatives.archs.vgg.count=1",
    "zoo.negatives.archs.vgg.recipe.epochs=8",
    "zoo.negatives.forest.count=2",
]


def compose_cfg(config_name: str, overrides: list[str], root: Path | None = None) -> DictConfig:
    """Compose a config as the entry point would, with paths pointed into ``root``; a type or
    choice error found while composing is raised as the ConfigError the CLI prints."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=overrides)
    except Exception as exc:
        err = config_error(exc)
        if err is None:
            raise
        raise err from exc
    if root is not None:
        with open_dict(cfg):
            cfg.paths.root_dir = str(root)
            cfg.paths.output_dir = str(root / "out")
    return cfg


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny but complete digits zoo; returns the zoo folder (``<root>/zoo/digits``)."""
    from train.zoo import build_zoo

    root = tmp_path_factory.mktemp("tinyzoo")
    cfg = compose_cfg("train", TINY_ZOO, root)
    build_zoo(cfg)
    return root / "zoo" / "digits"


@pytest.fixture()
def root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
