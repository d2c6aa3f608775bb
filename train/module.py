"""The LightningModule every zoo network trains with (target, fine-tuning, retraining, pruning).

Lightning sees one training step an epoch: the step runs the epoch's batches in a plain loop
(manual optimisation), so the trainer's per-batch machinery (hooks, batch transfer, closures,
result collection) costs nothing per batch, while everything Lightning does per epoch or per
run stays: precision (autocast), callbacks, loggers, checkpoints and resuming. Per-batch
progress comes from ``step_hooks``, called after every optimiser step."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from ipguard.models.layers import last_linear
from train.recipe import Optimizer, Recipe, Schedule

TRAINABLE = ("all", "last")
MOMENTUM = 0.9  # SGD's (Nesterov) momentum
Batch = tuple[torch.Tensor, torch.Tensor]


class ClassifierModule(L.LightningModule):
    """Cross-entropy training of a pixel-space classifier by a recipe (train.schema.Recipe,
    already checked when the config became typed): Adam, or SGD with Nesterov momentum 0.9;
    a cosine or constant learning rate; ``recipe.head_lr`` for the last layer if it differs
    (RTAL: a freshly initialised head learns at a normal rate while the rest retrains gently).

    trainable: "all" layers, or only the "last" (FTLL/RTLL: the rest is frozen and kept in
    eval mode so that batch-norm statistics do not drift either).
    masks: parameter name -> 0/1 tensor, re-applied after every optimiser step, so pruned
    weights stay pruned while the rest is retrained (WP/FP).
    channels_last: keep weights and batches in NHWC, the layout GPU tensor cores run fastest.
    steps_per_epoch: batches an epoch (the cosine schedule spans epochs x this).
    loss: ``loss(logits, y)`` in place of cross-entropy on labels, for targets that are not
    labels (soft targets, distillation: train.losses; y's leading columns are then class
    scores, whose argmax the training accuracy is measured against).
    perturb: ``perturb(model, x, y) -> x'``, applied to every batch before the forward pass
    (adversarial training: train.adversarial.PGD).

    Each training step receives an epoch's batches (train.datamodule) and takes, per batch,
    the steps Lightning's automatic optimisation took, in its order: forward and loss under
    the trainer's precision, gradients zeroed, backward, optimiser step, schedule step, masks.
    ``step_seconds`` adds up the time inside those steps (on a GPU: until they are queued)."""

    def __init__(
        self,
        model: nn.Module,
        recipe: Recipe,
        trainable: str = "all",
        masks: dict[str, torch.Tensor] | None = None,
        channels_last: bool = False,
        steps_per_epoch: int = 1,
        loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        perturb: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.loss_fn = loss if loss is not None else F.cross_entropy
        self.perturb = perturb
        if trainable not in TRAINABLE:
            raise ValueError(f"trainable={trainable!r}: choose one of {TRAINABLE}")
        self.automatic_optimization = False
        self.channels_last = channels_last
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.recipe, self.trainable = recipe, trainable
        self.masks = masks or {}
        self.head_name, self.head = last_linear(model)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.epoch_step = 0          # batches done in the current epoch
        self.steps_done = 0          # optimiser steps of the training (a resumed one's too)
        self.step_seconds = 0.0
        self.step_hooks: list[Callable[[ClassifierModule], None]] = []
        self._curves, self._sums, self._seen = False, None, 0
        if trainable == "last":
            for p in self.model.parameters():
                p.requires_grad_(False)
            for p in self.head.parameters():
                p.requires_grad_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def on_train_start(self) -> None:
        self.steps_done = self.trainer.current_epoch * self.steps_per_epoch  # resumed: so far
        # Training curves only where a logger reads them: one loss and accuracy per epoch,
        # summed on the device (no host sync a step), logged once when the epoch ends.
        self._curves = bool(self.trainer.loggers)

    def on_train_epoch_start(self) -> None:
        self.epoch_step = 0
        if self.trainable == "last":
            self.model.eval()
            self.head.train()

    def training_step(self, batches: Iterable[Batch], _: int) -> None:
        opt = self.optimizers(use_pl_optimizer=False)
        scaled = getattr(self.trainer.precision_plugin, "scaler", None) is not None
        sched = self.lr_schedulers()
        limit = int(self.trainer.fast_dev_run) or None   # fast_dev_run: that many batches
        for x, y in batches:
            start = time.perf_counter()
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            if self.perturb is not None:
                x = self.perturb(self.model, x, y)
            logits = self.model(x.contiguous(memory_format=torch.channels_last)
                                if self.channels_last else x)
            loss = self.loss_fn(logits, y)
            with torch.autocast(self.device.type, enabled=False):   # forward only, as before
                opt.zero_grad()
                if scaled:   # fp16: Lightning's loss scaling and scaler step
                    self.manual_backward(loss)
                    self.optimizers().step()
                else:
                    loss.backward()
                    opt.step()
            if sched is not None:
                sched.step()
            apply_masks(self.model, self.masks)
            if self._curves:
                hard = y if y.ndim == 1 else y[:, :logits.shape[1]].argmax(1)
                sums = torch.stack([loss.detach() * len(y),
                                    (logits.argmax(1) == hard).sum().float()])
                self._sums = sums if self._sums is None else self._sums + sums
                self._seen += len(y)
            if step_done(self, start, limit):
                break

    def on_train_epoch_end(self) -> None:
        if self._curves and self._sums is not None:
            loss, correct = (self._sums / self._seen).tolist()
            metrics = {"train/loss": loss, "train/acc": correct,
                       "epoch": self.trainer.current_epoch}
            for logger in self.loggers:
                logger.log_metrics(metrics, step=self.steps_done)
        self._sums, self._seen = None, 0

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the global RNG streams (dropout, batch augmentation) in the checkpoint, so that
        a resumed training continues exactly where the interrupted one stopped."""
        checkpoint["ipguard_rng"] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            checkpoint["ipguard_rng"]["cuda"] = torch.cuda.get_rng_state_all()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        rng = checkpoint.get("ipguard_rng") or {}
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "cuda" in rng and torch.cuda.is_available() and \
                len(rng["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(rng["cuda"])

    def configure_optimizers(self):  # noqa: ANN201 - Lightning's union return type
        head = {id(p) for p in self.head.parameters()}
        body = [p for p in self.model.parameters() if p.requires_grad and id(p) not in head]
        opt = make_optimizer([p for p in self.head.parameters() if p.requires_grad], body,
                             self.recipe)
        epochs = self.trainer.max_epochs if self.trainer.max_epochs is not None else 1
        sched = make_schedule(opt, self.recipe, epochs * self.steps_per_epoch)
        if sched is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def make_optimizer(head: list[torch.Tensor], body: list[torch.Tensor], recipe: Recipe
                   ) -> torch.optim.Optimizer:
    """The recipe's optimiser over the last layer's parameters (at ``recipe.head_lr`` where
    it is set) and the others: Adam, or SGD with Nesterov momentum 0.9."""
    params: list[dict] = [{"params": head, "lr": recipe.head_lr or recipe.lr}]
    if body:
        params.append({"params": body, "lr": recipe.lr})
    if recipe.optimizer == Optimizer.adam:
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    return torch.optim.SGD(params, lr=recipe.lr, momentum=MOMENTUM,
                           weight_decay=recipe.weight_decay, nesterov=True)


def make_schedule(opt: torch.optim.Optimizer, recipe: Recipe, steps: int
                  ) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The recipe's learning-rate schedule, stepped after every optimiser step: cosine over
    the training's ``steps``, or None for a constant rate."""
    if recipe.schedule == Schedule.constant:
        return None
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))


def step_done(module: Any, start: float, limit: int | None) -> bool:
    """Book an optimiser step that began at ``start`` on ``module`` (a zoo module with
    ``epoch_step``, ``steps_done``, ``step_seconds``, ``step_hooks``), call its hooks; True
    when the epoch stops here (``fast_dev_run``'s batch ``limit``)."""
    module.epoch_step += 1
    module.steps_done += 1
    module.step_seconds += time.perf_counter() - start
    for hook in module.step_hooks:
        hook(module)
    return limit is not None and module.epoch_step >= limit


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    if not masks:
        return
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        p = params[name]
        p.mul_(mask.to(p.device, p.dtype))


class LastCheckpoint(L.Callback):
    """Write ``path`` (a Lightning checkpoint: weights, optimiser, schedule, loop counters,
    shuffle and RNG states) every ``every_n_epochs`` epochs and after the last one, atomically
    (a temporary file renamed over it, by the trainer's checkpoint IO: train.fit's copies the
    state and writes it in a background thread), so that a training killed at any moment
    resumes from the last complete checkpoint and ends with the same weights as an
    uninterrupted one.

    ``min_seconds``: no checkpoint sooner than this after the training (re)started or the
    last checkpoint. Epochs of a second or less (a digits member's) would otherwise pay
    for a checkpoint each (4-7 ms: state copied, serialised, written: about a tenth of
    the training); a member killed then loses at most that many seconds more.

    ``identity`` (what the training is: member, seed, recipe) is stored with it; a checkpoint
    of another training is not resumed. The training seconds so far ride along too, so a
    resumed member records its whole training time."""

    def __init__(self, path: str | Path, every_n_epochs: int = 1,
                 identity: dict[str, Any] | None = None, min_seconds: float = 0.0) -> None:
        self.path = Path(path)
        self.every = int(every_n_epochs)
        self.identity = identity or {}
        self.min_seconds = float(min_seconds)
        self.seconds_before = 0.0
        self._start: float | None = None
        self._written = 0.0

    @property
    def seconds(self) -> float:
        """Training seconds of this member, over every run that contributed to it."""
        now = time.perf_counter() - self._start if self._start is not None else 0.0
        return self.seconds_before + now

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = self._written = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and epoch >= trainer.max_epochs
        now = time.perf_counter()
        if self.every > 0 and (epoch % self.every == 0 or last) and \
                now - self._written >= self.min_seconds:
            trainer.save_checkpoint(self.path)   # atomically, by train.fit's checkpoint IO
            self._written = now

    def state_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "seconds": self.seconds}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seconds_before = float(state.get("seconds", 0.0))


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint through ``torch.load(weights_only=True)``: tensors and plain
    containers only, so a file carrying a pickled object (code) is refused, not run."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def checkpoint_identity(checkpoint: dict[str, Any]) -> dict[str, Any] | None:
    state = (checkpoint.get("callbacks") or {}).get(LastCheckpoint.__qualname__) or {}
    return state.get("identity")
