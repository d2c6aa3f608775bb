"""Run a zoo plan (train.plan) member by member: skip the members a run before this one
finished, hand each other one to the builder registered for its kind (train.builders), log
the build's progress with an ETA, end each pruning chain at the first level that breaks the
3 % rule (kept under ``rejected/``), train seeded families in groups when asked (train.group),
and say once at the end how to upload the build's offline W&B runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ipguard.app.runtime import check_memory as check_bytes
from ipguard.app.runtime import format_bytes, images_bytes, training_bytes
from ipguard.data import ImageData
from ipguard.utils.errors import IPGuardError
from ipguard.utils.progress import Eta
from ipguard.zoo import Member, build_from_spec, is_built
from train.builders import builder_for
from train.context import BuildContext, Builder
from train.fit import Fitter
from train.offline_runs import sync_hint
from train.plan import MemberJob, model_specs, plan, stored_spec
from train.schema import ZooSpec

log = logging.getLogger(__name__)


class ZooBuilder:
    """Builds the members of ``zoo`` (the typed zoo spec) on ``data`` (the owner's), under
    ``root``; ``attacker`` is the attacker's data (train.training_sets.owner_split);
    ``retrain_at_chance`` retrains a network that trains to chance (train.builders.network);
    the other arguments are :class:`train.fit.Fitter`'s. ``built`` and ``skipped`` name the
    members this builder trained and those it found complete."""

    def __init__(
        self,
        zoo: ZooSpec,
        data: ImageData,
        root: str | Path,
        trainer: Mapping[str, Any] | None = None,
        log_dir: str | Path | None = None,
        device: str = "cpu",
        checkpoint_every_n_epochs: int = 1,
        wandb: Mapping[str, Any] | None = None,
        group_size: int = 1,
        checkpoint_min_seconds: float = 0.0,
        attacker: ImageData | None = None,
        retrain_at_chance: bool = True,
    ) -> None:
        self.zoo, self.data, self.root, self.device = zoo, data, Path(root), device
        self.fitter = Fitter(data, root, trainer, log_dir, wandb, checkpoint_every_n_epochs,
                             checkpoint_min_seconds)
        self.context = BuildContext(data, self.fitter, self.root, device, attacker=attacker,
                                    retrain_at_chance=retrain_at_chance)
        # group_size > 1: up to that many members of a seeded family train at once (train.group)
        self.group_size = max(1, int(group_size))
        self._jobs: list[MemberJob] = []            # the build's plan, where groups are formed
        self._grouped: dict[str, Member] = {}       # members trained with an earlier job's group
        self.skipped: list[str] = []

    @property
    def built(self) -> list[str]:
        return self.context.built

    def build(self, member: str = "all", seed: int | None = None) -> list[Member]:
        """Build the selected members (skipping finished ones); return every selected member
        but the pruning levels the 3 % rule rejected. Whether it ends or fails, the build
        says once how to upload the W&B runs it left offline."""
        runs = len(self.fitter.offline_runs)
        try:
            return self._build(member, seed)
        finally:
            hint = sync_hint(self.fitter.offline_runs[runs:])
            if hint is not None:
                log.info(hint)

    def _build(self, member: str, seed: int | None) -> list[Member]:
        jobs = plan(self.zoo, member, seed)
        self._jobs = jobs
        self.check_memory(member)
        done: list[Member] = []
        ended: set[str] = set()   # pruning chains stopped by the 3 % rule
        eta = Eta(sum(_work(job) for job in jobs))
        for number, job in enumerate(jobs, 1):
            if job.kind in ended:
                eta.add(_work(job))
                continue
            where = f"[{number}/{len(jobs)}] {job.name}"
            start, skipped = time.monotonic(), len(self.skipped)
            result = self.run(job, where)
            if len(self.skipped) > skipped:
                eta.add(_work(job))
                log.info("%s (%s): already built; %s", where, result.role, eta)
            else:
                eta.add(_work(job), time.monotonic() - start)
                acc = result.test_accuracy
                log.info("%s (%s): test accuracy %s, trained in %.1fs; %s", where, result.role,
                         "n/a" if acc is None else f"{acc:.4f}", result.train_seconds or 0.0,
                         eta)
            if result.role == "rejected":
                ended.add(job.kind)
            else:
                done.append(result)
        retrained = [m for m in done if m.hyper.get("retrained")]
        if retrained:
            log.warning("retrained after training to chance with their first seed (member.json "
                        "'retrained' lists each failed seed): %s",
                        ", ".join(f"{m.name} (now seed {m.seed}, test accuracy "
                                  f"{m.test_accuracy or 0:.3f})" for m in retrained))
        return done

    def check_memory(self, member: str = "all", available: int | None = None) -> int:
        """:func:`check_memory` with the loaded splits' sizes."""
        return check_memory(self.zoo, self.data.name, self.data.input_shape, member,
                            train_images=len(self.data.train), test_images=len(self.data.test),
                            available=available)

    def run(self, job: MemberJob, where: str | None = None) -> Member:
        """Build one member through its kind's builder, or load it when a run before this one
        finished it; ``where`` names the job in the line that says it starts (default: its
        name)."""
        if job.name in self._grouped:   # trained with the group of an earlier job
            return self._grouped.pop(job.name)
        if job.level is not None:
            rejected = self.context.folder("rejected", job.name)
            if is_built(rejected):
                return self._skip(rejected)
        folder = self.context.folder(job.role, job.name)
        if is_built(folder):
            return self._skip(folder)
        builder = builder_for(job.kind, self.zoo.negatives.archs)
        epochs = job.recipe.epochs if job.recipe is not None else 0
        work = (f"training {epochs} epoch{'s' * (epochs != 1)}" if epochs
                else "training a forest" if job.kind == "forest" else "loading its weights")
        group = self._group(job, builder)
        if len(group) > 1:
            work += f" together with {', '.join(j.name for j in group[1:])} (train.group)"
        log.info("%s (%s): %s", where or job.name, job.role, work)
        if len(group) > 1 and builder.group is not None:
            first, *rest = builder.group(self.context, group)
            self._grouped.update({m.name: m for m in rest})
            return first
        return builder.build(self.context, job)

    def _group(self, job: MemberJob, builder: Builder) -> list[MemberJob]:
        """``job`` and the members after it in the plan that train with it: up to
        ``group_size`` unbuilt members of its seeded family (same constructor and recipe, not
        made from the target), for a kind whose builder trains groups. Just ``job`` when
        grouping is off or it has no such peers."""
        groupable = (self.group_size > 1 and builder.group is not None and not job.derived
                     and job.recipe is not None and job.level is None)
        if not groupable or job not in self._jobs:
            return [job]
        group = [job]
        for other in self._jobs[self._jobs.index(job) + 1:]:
            if len(group) == self.group_size:
                break
            if (other.family, other.kind, other.recipe, other.model, other.derived) != \
                    (job.family, job.kind, job.recipe, job.model, job.derived):
                continue
            if not is_built(self.context.folder(other.role, other.name)):
                group.append(other)
        return group

    def _skip(self, folder: Path) -> Member:
        member = Member.load(folder)
        self.skipped.append(member.name)
        self.fitter.clear_partial(member.name)  # a run killed after writing member.json left it
        return member


def _work(job: MemberJob) -> int:
    """A job's share of a build's time, for the ETA: its epochs (1 without a recipe: a forest,
    pretrained weights)."""
    return job.recipe.epochs if job.recipe is not None else 1


def check_memory(
    zoo: ZooSpec,
    dataset: str,
    input_shape: Sequence[int],
    member: str = "all",
    *,
    train_images: int,
    test_images: int | None,
    available: int | None = None,
) -> int:
    """Fail before training when the largest member would not fit in memory: the test split
    and, for forests, the training split stacked as float32, plus the largest model with its
    gradients and Adam moments. ``test_images`` None: not known before the data loads (the
    builder checks again with it). Returns the estimate in bytes."""
    test = images_bytes(test_images or 0, input_shape)
    train = 0
    if member in ("all", "negatives", "forest") and zoo.negatives.forest.count:
        train = 2 * images_bytes(train_images, input_shape)  # stacked + scikit-learn's
    model = training_bytes(max(_parameters(spec) for _, spec in model_specs(zoo, built=True)))
    need = test + train + model
    split = "not counted before it loads" if test_images is None else format_bytes(test)
    check_bytes(need, f"building the {dataset} zoo (member={member})",
                f"test split {split}, training split for the forests {format_bytes(train)}, "
                f"largest model in training {format_bytes(model)}; use a machine with more "
                "memory or smaller splits", available)
    return need


def _parameters(spec: Mapping[str, Any]) -> int:
    """Parameter count without allocating or downloading anything (meta device); 0 for a
    constructor that cannot be built there (the estimate then leaves it out)."""
    try:
        with torch.device("meta"):
            model = build_from_spec(stored_spec(spec))
    except IPGuardError:
        raise
    except Exception as exc:  # noqa: BLE001 - some constructors read tensor values
        log.debug("cannot count parameters of %s on the meta device: %s", spec, exc)
        return 0
    return sum(p.numel() for p in model.parameters())
