"""The LightningModule every zoo network trains with (target, fine-tuning, retraining, pruning)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from ipguard.io import atomic_write
from ipguard.models.layers import last_linear
from train.schema import Optimizer, Recipe, Schedule

TRAINABLE = ("all", "last")
MOMENTUM = 0.9  # SGD's (Nesterov) momentum


class ClassifierModule(L.LightningModule):
    """Cross-entropy training of a pixel-space classifier by a recipe (train.schema.Recipe,
    already checked when the config became typed): Adam, or SGD with Nesterov momentum 0.9;
    a cosine or constant learning rate; ``recipe.head_lr`` for the last layer if it differs
    (RTAL: a freshly initialised head learns at a normal rate while the rest retrains gently).

    trainable: "all" layers, or only the "last" (FTLL/RTLL: the rest is frozen and kept in
    eval mode so that batch-norm statistics do not drift either).
    masks: parameter name -> 0/1 tensor, re-applied after every optimiser step, so pruned
    weights stay pruned while the rest is retrained (WP/FP).
    channels_last: keep weights and batches in NHWC, the layout GPU tensor cores run fastest."""

    def __init__(
        self,
        model: nn.Module,
        recipe: Recipe,
        trainable: str = "all",
        masks: dict[str, torch.Tensor] | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        if trainable not in TRAINABLE:
            raise ValueError(f"trainable={trainable!r}: choose one of {TRAINABLE}")
        self.channels_last = channels_last
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.recipe, self.trainable = recipe, trainable
        self.masks = masks or {}
        self.head_name, self.head = last_linear(model)
        if trainable == "last":
            for p in self.model.parameters():
                p.requires_grad_(False)
            for p in self.head.parameters():
                p.requires_grad_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def on_train_epoch_start(self) -> None:
        if self.trainable == "last":
            self.model.eval()
            self.head.train()

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        x = self._inputs(x)
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        self.log("train/acc", (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        x = self._inputs(x)
        logits = self.model(x)
        self.log("val/loss", F.cross_entropy(logits, y), on_epoch=True)
        self.log("val/acc", (logits.argmax(1) == y).float().mean(), on_epoch=True)

    def on_train_batch_end(self, *_: object) -> None:
        apply_masks(self.model, self.masks)

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
        recipe = self.recipe
        head = {id(p) for p in self.head.parameters()}
        body = [p for p in self.model.parameters() if p.requires_grad and id(p) not in head]
        params: list[dict] = [{"params": [p for p in self.head.parameters() if p.requires_grad],
                               "lr": recipe.head_lr or recipe.lr}]
        if body:
            params.append({"params": body, "lr": recipe.lr})
        if recipe.optimizer == Optimizer.adam:
            opt: torch.optim.Optimizer = torch.optim.Adam(
                params, lr=recipe.lr, weight_decay=recipe.weight_decay
            )
        else:
            opt = torch.optim.SGD(
                params, lr=recipe.lr, momentum=MOMENTUM, weight_decay=recipe.weight_decay,
                nesterov=True,
            )
        if recipe.schedule == Schedule.constant:
            return opt
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


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
    (a temporary file renamed over it), so that a training killed at any moment resumes from
    the last complete checkpoint and ends with the same weights as an uninterrupted one.

    ``identity`` (what the training is: member, seed, recipe) is stored with it; a checkpoint
    of another training is not resumed. The training seconds so far ride along too, so a
    resumed member records its whole training time."""

    def __init__(self, path: str | Path, every_n_epochs: int = 1,
                 identity: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.every = int(every_n_epochs)
        self.identity = identity or {}
        self.seconds_before = 0.0
        self._start: float | None = None

    @property
    def seconds(self) -> float:
        """Training seconds of this member, over every run that contributed to it."""
        now = time.perf_counter() - self._start if self._start is not None else 0.0
        return self.seconds_before + now

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and epoch >= trainer.max_epochs
        if self.every > 0 and (epoch % self.every == 0 or last):
            atomic_write(self.path, lambda tmp: trainer.save_checkpoint(tmp))

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
