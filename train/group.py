"""Grouped training (``python -m train.zoo group_size=N``): several members of one seeded family
(same architecture, same recipe, other seeds) trained at once on one device.

Their parameters and buffers are stacked (``torch.func.stack_module_state``) and every step runs
one vmapped forward and backward (``torch.func.vmap`` over ``functional_call``) over the
members' own batches, stacked: each member keeps its own initialisation, its own shuffle
generator and its own stream of the global RNG (the batch augmentation draws from it), so it
sees exactly the batches it sees when trained alone. The optimiser (Adam or SGD, elementwise)
and the schedule are the single path's, over the stacked tensors.

What differs from training alone is only the arithmetic of the batched kernels (a vmapped
convolution runs as a grouped one), so a member's weights agree with its lone training to
float rounding, not bit for bit (tests/zoo/test_group_training.py states the tolerance). Members
that draw random numbers in their forward pass (dropout) cannot be grouped: vmap refuses them.

A group in training is resumable like a member: ``<zoo>/.partial/<group>/last.ckpt`` holds the
stacked weights, the optimiser, the schedule, the loop counters and every member's shuffle and
RNG state, written by the same Lightning trainer and checkpoint callback as a member's."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F
from torch.utils.data import Dataset

from ipguard.app.config import plain
from ipguard.data import ImageData
from ipguard.models.layers import last_linear
from train.datamodule import batches
from train.fit import Fitter, Trained
from train.module import LastCheckpoint, make_optimizer, make_schedule, step_done
from train.recipe import Recipe

Batch = tuple[torch.Tensor, torch.Tensor]


def _key(name: str) -> str:
    """A parameter's name as a registrable attribute name (no dots)."""
    return name.replace(".", "__")


class GroupDataModule(L.LightningDataModule):
    """Each member's shuffled (augmented) batches, stacked: a step's batch is (members, batch,
    ...). Member m's order comes from its own generator seeded by ``seeds[m]`` (as
    train.datamodule's), and its augmentation from its own global-RNG state ``rng[m]`` (the
    state its lone training would have), swapped in while its batch is drawn. Both are part of
    the checkpoint, so a resumed group sees the batches an uninterrupted one sees."""

    def __init__(self, data: ImageData, batch_size: int, seeds: Sequence[int],
                 rng: Sequence[torch.Tensor], num_workers: int = 0) -> None:
        super().__init__()
        self.data, self.batch_size, self.num_workers = data, batch_size, num_workers
        self.seeds = list(seeds)
        self.generators = [torch.Generator().manual_seed(s) for s in self.seeds]
        self.rng = [state.clone() for state in rng]

    @property
    def dataset(self) -> Dataset:
        return self.data.train_augmented or self.data.train

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.dataset) // self.batch_size)  # type: ignore[arg-type]

    def train_dataloader(self) -> _OneEpoch:
        return _OneEpoch(self)

    def epoch(self) -> Iterator[Batch]:
        loaders = [batches(self.dataset, self.batch_size, g, self.num_workers)
                   for g in self.generators]
        iters = [iter(loader) for loader in loaders]
        outer = torch.get_rng_state()
        try:
            for _ in range(len(loaders[0])):
                xs, ys = [], []
                for m, it in enumerate(iters):
                    torch.set_rng_state(self.rng[m])
                    x, y = next(it)
                    self.rng[m] = torch.get_rng_state()
                    xs.append(x)
                    ys.append(y)
                yield torch.stack(xs), torch.stack(ys)
        finally:
            torch.set_rng_state(outer)

    def state_dict(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "generators": [g.get_state() for g in self.generators],
                "rng": list(self.rng)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for g, saved in zip(self.generators, state.get("generators", []), strict=False):
            g.set_state(saved)
        if state.get("rng"):
            self.rng = [s.clone() for s in state["rng"]]


class _OneEpoch:
    """An epoch of stacked batches as Lightning's one item an epoch (train.datamodule's
    EpochBatches for a group)."""

    def __init__(self, data: GroupDataModule) -> None:
        self.data = data

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Iterable[Batch]]:
        yield self.data.epoch()


class GroupModule(L.LightningModule):
    """Members of one architecture trained together: their parameters stacked along a new
    leading dimension (one ``nn.Parameter`` per parameter name, registered under the name with
    ``__`` for ``.``), their buffers likewise; a step is one vmapped forward over the members'
    stacked batches, the sum of their mean cross-entropies backwards (each member's gradient is
    its own loss's), and the recipe's optimiser step and schedule step, as
    train.module.ClassifierModule takes them. The same counters and ``step_hooks`` as that
    module, so train.fit's progress works for a group."""

    def __init__(self, models: Sequence[nn.Module], recipe: Recipe, steps_per_epoch: int = 1
                 ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.recipe, self.members = recipe, len(models)
        params, buffers = stack_module_state(list(models))
        self.param_names, self.buffer_names = list(params), list(buffers)
        self.stacked = nn.ParameterDict({_key(n): nn.Parameter(p.detach())
                                         for n, p in params.items()})
        for name, b in buffers.items():
            self.register_buffer(f"buffer__{_key(name)}", b)
        self._base = [copy.deepcopy(models[0]).to("meta")]   # the shape of a member, no data
        head = last_linear(models[0])[0] + "."
        self.head_names = [n for n in self.param_names if n.startswith(head)]
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.epoch_step = 0
        self.steps_done = 0
        self.step_seconds = 0.0
        self.step_hooks: list[Callable[[GroupModule], None]] = []

    def params(self) -> dict[str, torch.Tensor]:
        return {n: self.stacked[_key(n)] for n in self.param_names}

    def buffers_(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, f"buffer__{_key(n)}") for n in self.buffer_names}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (members, batch, classes) of each member on its own batch ``x[m]``."""
        base = self._base[0]

        def one(params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
                xb: torch.Tensor) -> torch.Tensor:
            return functional_call(base, (params, buffers), (xb,))

        return vmap(one, randomness="error")(self.params(), self.buffers_(), x)

    def on_train_start(self) -> None:
        self.steps_done = self.trainer.current_epoch * self.steps_per_epoch
        self._base[0].train()

    def on_train_epoch_start(self) -> None:
        self.epoch_step = 0

    def training_step(self, batches: Iterable[Batch], _: int) -> None:
        opt = self.optimizers(use_pl_optimizer=False)
        sched = self.lr_schedulers()
        limit = int(self.trainer.fast_dev_run) or None
        for x, y in batches:
            start = time.perf_counter()
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            logits = self(x)
            losses = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
            loss = losses.view(self.members, -1).mean(dim=1).sum()
            with torch.autocast(self.device.type, enabled=False):
                opt.zero_grad()
                loss.backward()
                opt.step()
            if sched is not None:
                sched.step()
            if step_done(self, start, limit):
                break

    def configure_optimizers(self):  # noqa: ANN201 - Lightning's union return type
        params = self.params()
        head = [params[n] for n in self.head_names]
        body = [p for n, p in params.items() if n not in self.head_names]
        opt = make_optimizer(head, body, self.recipe)
        epochs = self.trainer.max_epochs if self.trainer.max_epochs is not None else 1
        sched = make_schedule(opt, self.recipe, epochs * self.steps_per_epoch)
        if sched is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    @torch.no_grad()
    def unstack(self, models: Sequence[nn.Module]) -> None:
        """Copy member m's trained parameters and buffers into ``models[m]``."""
        params, buffers = self.params(), self.buffers_()
        for m, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(params[name][m])
            for name, b in model.named_buffers():
                if name in buffers:
                    b.copy_(buffers[name][m])


def fit_group(fitter: Fitter, models: Sequence[nn.Module], recipe: Recipe, seeds: Sequence[int],
              names: Sequence[str], rng: Sequence[torch.Tensor], group: str,
              test: Callable[[nn.Module], float | None] | None = None) -> list[Trained]:
    """Train ``models`` (built with ``seeds``, named ``names``; ``rng[m]``: the global RNG
    state right after member m was built) together by ``recipe``, resuming the group's
    checkpoint (``<zoo>/.partial/<group>/``) of this very training if there is one, and copy
    each member's weights back into its model. Returns each member's training seconds (its
    share of the group's) and test accuracy."""
    data = fitter.data
    datamodule = GroupDataModule(data, recipe.batch_size, seeds, rng, fitter.num_workers)
    module = GroupModule(models, recipe, steps_per_epoch=datamodule.steps_per_epoch)
    identity = {"name": group, "members": list(names), "seeds": list(seeds),
                "recipe": plain(recipe), "trainable": "all", "masked": []}
    ckpt = fitter.partial(group) / "last.ckpt"
    resume = fitter.resumable(ckpt, identity)
    checkpoint = LastCheckpoint(ckpt, fitter.checkpoint_every, identity,
                                fitter.checkpoint_min_seconds)
    trainer = fitter.trainer(group, recipe.epochs, checkpoint, [])
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume, weights_only=True)
    module.unstack(models)
    share = checkpoint.seconds / len(models)
    return [Trained(share, test(model.eval()) if test is not None else None)
            for model in models]
