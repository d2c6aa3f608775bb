"""Training one zoo network with Lightning, resumably: a member in training writes
``<zoo>/.partial/<member>/last.ckpt`` (weights, optimiser, schedule, loop counters, shuffle and
RNG states) every few epochs, and a build killed at any moment resumes it from there, ending
with the weights an uninterrupted training gives."""

from __future__ import annotations

import logging
import math
import shutil
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import nn

from ipguard.config import plain
from ipguard.data import ImageData
from ipguard.errors import IPGuardError
from ipguard.io import remove_stale_tmp
from ipguard.progress import Progress, resolve_mode
from ipguard.tracking import finish_lightning_logger, lightning_logger
from train.datamodule import ImageDataModule
from train.module import ClassifierModule, LastCheckpoint, checkpoint_identity, read_checkpoint
from train.schema import Recipe

log = logging.getLogger(__name__)
PARTIAL = ".partial"  # <zoo>/.partial/<member>/last.ckpt: trainings not finished yet


def quiet_lightning() -> None:
    """Keep a zoo build's console to one line per member: Lightning's banners and tips, and
    its hint to use srun (jobs here are single-process by design), are noise at this scale."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*srun.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*smaller than the logging interval.*")


class TrainingProgress(L.Callback):
    """A training's progress as log lines (where no bar is drawn): batches done, the epoch and
    the time left, every ``IPGUARD_PROGRESS_INTERVAL`` seconds. A resumed training counts
    from the epoch it resumes at."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.progress: Progress | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        batches = trainer.num_training_batches
        known = math.isfinite(batches) and trainer.max_epochs is not None
        self.progress = Progress(
            f"train {self.name}", int(batches * trainer.max_epochs) if known else None,
            "batch", initial=int(batches * trainer.current_epoch) if known else 0, mode="log")

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if self.progress is not None:
            self.progress.update(1, epoch=f"{trainer.current_epoch + 1}/{trainer.max_epochs}")

    def on_train_end(self, trainer: L.Trainer, *args: Any) -> None:
        if self.progress is not None:
            self.progress.close()

    def on_exception(self, trainer: L.Trainer, *args: Any) -> None:
        if self.progress is not None:  # killed, timed out, failed: not "done"
            self.progress.close(interrupted=True)


class Fitter:
    """Trains networks on ``data`` for the zoo under ``root``.

    ``trainer``: lightning.Trainer keyword arguments (conf/trainer/), less the two that say how
    batches reach the model (``channels_last``, ``num_workers``); ``wandb``: the logger config
    (one W&B run per trained member); ``log_dir``: CSV logs; ``checkpoint_every``: epochs
    between resumable checkpoints (0: none)."""

    def __init__(
        self,
        data: ImageData,
        root: str | Path,
        trainer: Mapping[str, Any] | None = None,
        log_dir: str | Path | None = None,
        wandb: Mapping[str, Any] | None = None,
        checkpoint_every: int = 1,
    ) -> None:
        self.data, self.root = data, Path(root)
        self.trainer_kwargs = dict(trainer or {})
        self.channels_last = bool(self.trainer_kwargs.pop("channels_last", False))
        self.num_workers = int(self.trainer_kwargs.pop("num_workers", 0))
        self.log_dir = Path(log_dir) if log_dir else None
        self.wandb = dict(wandb or {})
        self.checkpoint_every = int(checkpoint_every)
        quiet_lightning()

    def fit(
        self,
        model: nn.Module,
        recipe: Recipe,
        seed: int,
        name: str,
        trainable: str = "all",
        masks: dict[str, torch.Tensor] | None = None,
    ) -> float:
        """Train ``model`` in place by ``recipe`` (batches shuffled by ``seed``), resuming
        ``name``'s checkpoint of this very training if there is one; returns the training
        seconds over every run that contributed."""
        if len(self.data.train) == 0:
            raise IPGuardError(f"dataset {self.data.name} has no training images, and {name} "
                               "must be trained: give the dataset's folder (for imagenet: "
                               "dataset.loader.root=/path/to/imagenet)")
        module = ClassifierModule(model, recipe, trainable=trainable, masks=masks,
                                  channels_last=self.channels_last)
        datamodule = ImageDataModule(self.data, batch_size=recipe.batch_size, seed=seed,
                                     num_workers=self.num_workers)
        identity = {"name": name, "seed": seed, "recipe": plain(recipe), "trainable": trainable,
                    "masked": sorted(masks) if masks else []}
        loggers: list[Any] = [CSVLogger(str(self.log_dir), name=name)] if self.log_dir else []
        run = lightning_logger(self.wandb, name=f"{self.data.name}-{name}",
                               group=f"zoo-{self.data.name}", tags=[self.data.name, name],
                               config={"member": name, "seed": seed,
                                       "recipe": identity["recipe"], "trainable": trainable})
        if run is not None:
            loggers.append(run)
        ckpt = self.partial(name) / "last.ckpt"
        resume = self._resumable(ckpt, identity)
        checkpoint = LastCheckpoint(ckpt, self.checkpoint_every, identity)
        callbacks: list[L.Callback] = [checkpoint]
        # Lightning's own bar on a terminal (it draws on stdout), a line every so often
        # elsewhere, nothing with IPGUARD_PROGRESS=off (ipguard.progress).
        shown = resolve_mode(sys.stdout)
        if shown == "log":
            callbacks.append(TrainingProgress(name))
        kwargs = {"enable_progress_bar": shown == "bar", "enable_model_summary": False,
                  "enable_checkpointing": False, **self.trainer_kwargs}
        trainer = L.Trainer(max_epochs=recipe.epochs, logger=loggers or False,
                            callbacks=callbacks, **kwargs)
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=resume, weights_only=True)
        except BaseException:
            finish_lightning_logger(run, exit_code=1)  # the member's W&B run ends as failed
            raise
        finish_lightning_logger(run)
        return checkpoint.seconds

    def partial(self, name: str) -> Path:
        return self.root / PARTIAL / name

    def clear_partial(self, name: str) -> None:
        """A finished member's checkpoint is no longer needed (nor the empty ``.partial``)."""
        shutil.rmtree(self.partial(name), ignore_errors=True)
        try:
            (self.root / PARTIAL).rmdir()
        except OSError:
            pass  # absent, or another member's training is still in there

    def _resumable(self, ckpt: Path, identity: dict[str, Any]) -> Path | None:
        """``ckpt`` when it is a readable checkpoint of this very training, else None (an
        unreadable, unsafe or foreign one is deleted and the member trains from the start)."""
        if not ckpt.is_file():
            remove_stale_tmp(ckpt.parent)
            return None
        try:
            state = read_checkpoint(ckpt)
            found = checkpoint_identity(state)
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint: start afresh
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("%s cannot be resumed (%s: %s): training %s from the start", ckpt,
                        type(exc).__name__, first[:200], identity["name"])
            shutil.rmtree(ckpt.parent, ignore_errors=True)
            return None
        if found != identity:
            log.warning("%s belongs to another training (recipe or seed changed): training %s "
                        "from the start", ckpt, identity["name"])
            shutil.rmtree(ckpt.parent, ignore_errors=True)
            return None
        log.info("resuming %s from its checkpoint after epoch %d", identity["name"],
                 int(state.get("epoch", -1)) + 1)
        return ckpt
