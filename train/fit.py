"""Training one zoo network with Lightning, resumably: a member in training writes
``<zoo>/.partial/<member>/last.ckpt`` (weights, optimiser, schedule, loop counters, shuffle and
RNG states) every few epochs, and a build killed at any moment resumes it from there, ending
with the weights an uninterrupted training gives.

Nothing runs between optimiser steps that nobody reads: no validation loop (the member's test
accuracy is measured once, after training, and logged with its curves), training curves summed
on the device and logged once an epoch, checkpoints copied and written (atomically, fsync
included) by a background thread while training goes on."""

from __future__ import annotations

import copy
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import AsyncCheckpointIO, TorchCheckpointIO
from torch import nn

from ipguard.app.config import plain
from ipguard.app.runtime import native_bf16
from ipguard.data import ImageData
from ipguard.results.tracking import (
    finish_lightning_logger,
    lightning_logger,
    offline_run_dir,
    zoo_group,
)
from ipguard.utils.errors import IPGuardError
from ipguard.utils.io import atomic_write, remove_stale_tmp
from ipguard.utils.progress import resolve_mode
from train.datamodule import ImageDataModule
from train.module import ClassifierModule, LastCheckpoint, checkpoint_identity, read_checkpoint
from train.recipe import Recipe
from train.training_progress import BatchBar, TrainingProgress

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


NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def skip_failing_nvml_check() -> None:
    """Importing Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``, which makes every
    ``torch.cuda.is_available()`` probe NVML first, and torch's optimisers ask at every step.
    Where NVML cannot be loaded (no NVIDIA driver: a CPU-only machine) each probe is a failed
    ``dlopen`` of libnvidia-ml (0.2-0.4 ms, about a tenth of a digits CNN's step here) before
    torch falls back to the CUDA runtime's answer anyway; so there the variable is dropped, and
    the answer is the same without the probe."""
    if os.environ.get(NVML_CHECK) == "1" and torch.cuda._device_count_nvml() < 0:
        del os.environ[NVML_CHECK]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer through :func:`ipguard.utils.io.atomic_write` (temporary file,
    fsync, rename): a build killed while writing leaves the previous checkpoint intact."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any = None) -> None:
        atomic_write(path, lambda tmp: super(AtomicCheckpointIO, self).save_checkpoint(
            checkpoint, tmp, storage_options))


@dataclass(frozen=True)
class Trained:
    """What training a member gave besides its weights: the training seconds (over every run
    that contributed) and the test accuracy measured once it finished (None: not measured)."""

    seconds: float
    test_accuracy: float | None = None


def warn_emulated_bf16(trainer: Mapping[str, Any]) -> bool:
    """Warn (and say so) when bf16 autocast is asked for on a CPU without native bf16: it runs,
    but emulated, several times slower than fp32 (trainer=cpu)."""
    bf16 = str(trainer.get("precision", "")).startswith("bf16")
    if not bf16 or str(trainer.get("accelerator", "cpu")) != "cpu" or native_bf16():
        return False
    log.warning("precision=%s on a CPU without native bf16 (no AMX or AVX512-BF16): emulated, "
                "several times slower than fp32; use trainer=cpu (or trainer.precision=32-true)",
                trainer.get("precision"))
    return True


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
        checkpoint_min_seconds: float = 0.0,
    ) -> None:
        self.data, self.root = data, Path(root)
        self.trainer_kwargs = dict(trainer or {})
        self.channels_last = bool(self.trainer_kwargs.pop("channels_last", False))
        self.num_workers = int(self.trainer_kwargs.pop("num_workers", 0))
        self.log_dir = Path(log_dir) if log_dir else None
        self.wandb = dict(wandb or {})
        self.checkpoint_every = int(checkpoint_every)
        self.checkpoint_min_seconds = float(checkpoint_min_seconds)
        self.callbacks: list[L.Callback] = []   # added to every training (timing, profiling)
        # the folders of the offline W&B runs of the trainings so far (one command syncs them)
        self.offline_runs: list[Path] = []
        warn_emulated_bf16(self.trainer_kwargs)
        quiet_lightning()
        skip_failing_nvml_check()

    def fit(
        self,
        model: nn.Module,
        recipe: Recipe,
        seed: int,
        name: str,
        trainable: str = "all",
        masks: dict[str, torch.Tensor] | None = None,
        test: Callable[[nn.Module], float | None] | None = None,
        data: ImageData | None = None,
        loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        perturb: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> Trained:
        """Train ``model`` in place by ``recipe`` (batches shuffled by ``seed``), resuming
        ``name``'s checkpoint of this very training if there is one. ``test`` measures the
        trained model's test accuracy, logged as ``test/acc`` beside the training curves.

        Stealing suspects (docs/stealing.md) train on ``data`` (the attacker's dataset)
        instead of the zoo's, with ``loss`` (soft targets, distillation) instead of
        cross-entropy on labels, or on batches ``perturb`` makes adversarial (PGD); the loss
        and the attack are part of the checkpoint's identity (their repr)."""
        if data is not None and data is not self.data:
            return _with_data(self, data).fit(model, recipe, seed, name, trainable, masks,
                                              test, loss=loss, perturb=perturb)
        if len(self.data.train) == 0:
            raise IPGuardError(f"dataset {self.data.name} has no training images, and {name} "
                               "must be trained: give the dataset's folder (for imagenet: "
                               "dataset.loader.root=/path/to/imagenet)")
        datamodule = ImageDataModule(self.data, batch_size=recipe.batch_size, seed=seed,
                                     num_workers=self.num_workers)
        module = ClassifierModule(model, recipe, trainable=trainable, masks=masks, loss=loss,
                                  perturb=perturb,
                                  channels_last=self.channels_last,
                                  steps_per_epoch=datamodule.steps_per_epoch)
        identity = {"name": name, "seed": seed, "recipe": plain(recipe), "trainable": trainable,
                    "masked": sorted(masks) if masks else []}
        identity |= {k: repr(v) for k, v in (("loss", loss), ("perturb", perturb)) if v}
        loggers: list[Any] = [CSVLogger(str(self.log_dir), name=name)] if self.log_dir else []
        run = lightning_logger(self.wandb, name=f"{self.data.name}-{name}",
                               group=zoo_group(self.data.name), tags=[self.data.name, name],
                               config={"member": name, "seed": seed,
                                       "recipe": identity["recipe"], "trainable": trainable},
                               announce_offline=False)
        if run is not None:
            loggers.append(run)
            self._note_offline_run(run)
        ckpt = self.partial(name) / "last.ckpt"
        resume = self.resumable(ckpt, identity)
        checkpoint = LastCheckpoint(ckpt, self.checkpoint_every, identity,
                                    self.checkpoint_min_seconds)
        trainer = self.trainer(name, recipe.epochs, checkpoint, loggers)
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=resume, weights_only=True)
            seconds = checkpoint.seconds
            acc = test(model) if test is not None else None
            if acc is not None:
                for logger in loggers:
                    logger.log_metrics({"test/acc": acc}, step=module.steps_done)
        except BaseException:
            finish_lightning_logger(run, exit_code=1)  # the member's W&B run ends as failed
            raise
        finish_lightning_logger(run)
        return Trained(seconds, acc)

    def trainer(self, name: str, epochs: int, checkpoint: LastCheckpoint,
                loggers: list[Any]) -> L.Trainer:
        """The Lightning trainer of one training (a member, or a group of members trained
        together: train.group): ``checkpoint`` and the fitter's callbacks, progress, and the
        checkpoint IO that writes atomically in a background thread."""
        callbacks: list[L.Callback] = [checkpoint, *self.callbacks]
        # Lightning's own bar on a terminal (it draws on stdout), a line every so often
        # elsewhere, nothing with IPGUARD_PROGRESS=off (ipguard.utils.progress).
        shown = resolve_mode(sys.stdout)
        if shown in ("log", "bar"):
            callbacks.append(TrainingProgress(name) if shown == "log" else BatchBar())
        kwargs = {"enable_progress_bar": shown == "bar", "enable_model_summary": False,
                  "enable_checkpointing": False, **self.trainer_kwargs}
        if self.checkpoint_every > 0:
            kwargs.setdefault("plugins", [AsyncCheckpointIO(AtomicCheckpointIO())])
        return L.Trainer(max_epochs=epochs, logger=loggers or False, callbacks=callbacks,
                         **kwargs)

    def _note_offline_run(self, logger: Any) -> None:
        """Keep an offline run's folder for the build's one ``wandb sync`` line (train.build)."""
        folder = offline_run_dir(logger.experiment)
        if folder is not None and folder not in self.offline_runs:
            self.offline_runs.append(folder)

    def partial(self, name: str) -> Path:
        return self.root / PARTIAL / name

    def clear_partial(self, name: str) -> None:
        """A finished member's checkpoint is no longer needed (nor the empty ``.partial``)."""
        shutil.rmtree(self.partial(name), ignore_errors=True)
        try:
            (self.root / PARTIAL).rmdir()
        except OSError:
            pass  # absent, or another member's training is still in there

    def resumable(self, ckpt: Path, identity: dict[str, Any]) -> Path | None:
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


def _with_data(fitter: Fitter, data: ImageData) -> Fitter:
    """The same fitter (trainer, loggers, checkpoints) over another training set."""
    other = copy.copy(fitter)
    other.data = data
    return other
