"""How a zoo training shows its progress (train.fit picks one): log lines every so often where
no bar is drawn, or Lightning's bar on a terminal. Both count an epoch's batches through the
module's ``step_hooks`` (Lightning sees one step an epoch: train.module runs the whole epoch in
one), for a member (train.module.ClassifierModule) and a group (train.group.GroupModule)."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar

from ipguard.utils.progress import Progress
from train.module import ClassifierModule


class TrainingProgress(L.Callback):
    """A training's progress as log lines (where no bar is drawn): batches done, the epoch and
    the time left, every ``IPGUARD_PROGRESS_INTERVAL`` seconds. A resumed training counts
    from the epoch it resumes at. Batches are counted by the module's ``step_hooks`` (Lightning
    sees one step an epoch)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.progress: Progress | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # a ClassifierModule or a train.group.GroupModule: both count batches by step hooks
        epochs, steps = trainer.max_epochs, pl_module.steps_per_epoch
        self.progress = Progress(f"train {self.name}", steps * epochs if epochs else None,
                                 "batch", initial=steps * trainer.current_epoch, mode="log")
        pl_module.step_hooks.append(self.step)

    def step(self, module: ClassifierModule) -> None:
        if self.progress is not None:
            trainer = module.trainer
            self.progress.update(1, epoch=f"{trainer.current_epoch + 1}/{trainer.max_epochs}")

    def on_train_end(self, trainer: L.Trainer, *args: Any) -> None:
        if self.progress is not None:
            self.progress.close()

    def on_exception(self, trainer: L.Trainer, *args: Any) -> None:
        if self.progress is not None:  # killed, timed out, failed: not "done"
            self.progress.close(interrupted=True)


class BatchBar(TQDMProgressBar):
    """Lightning's progress bar counting an epoch's batches (through the module's
    ``step_hooks``), not Lightning's one step an epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 1

    @property
    def total_train_batches(self) -> int:
        return self.steps

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # a ClassifierModule or a train.group.GroupModule: both count batches by step hooks
        self.steps = pl_module.steps_per_epoch
        pl_module.step_hooks.append(self.step)
        super().on_train_start(trainer, pl_module)

    def step(self, module: ClassifierModule) -> None:
        bar, n = self.train_progress_bar, module.epoch_step
        if bar is not None and self._should_update(n, bar.total) and not bar.disable:
            bar.n = n
            bar.refresh()

    def on_train_batch_end(self, *args: Any) -> None:
        pass   # the step hook moved the bar batch by batch
