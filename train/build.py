"""Run a zoo plan (train.plan) member by member: build or load each network, train it through
train.fit, measure its test accuracy once, count its parameters and FLOPs, and save it through
ipguard.zoo (weights or forest first, member.json last). A member whose member.json exists is
complete and skipped on rerun; a pruning chain ends at the first level that breaks the 3 %
rule, which is kept under ``rejected/``."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

from ipguard.app.runtime import check_memory as check_bytes
from ipguard.app.runtime import format_bytes, images_bytes, training_bytes
from ipguard.core.classifier import Classifier, ForestClassifier, TorchClassifier, accuracy
from ipguard.data import ImageData
from ipguard.models.forest import train_forest
from ipguard.models.layers import count_parameters
from ipguard.utils.errors import IPGuardError, MissingZooError
from ipguard.utils.progress import Eta
from ipguard.zoo import Member, build_from_spec, is_built, member_dir, save_member
from ipguard.zoo.suspects import FINETUNE, PRUNING, in_paper
from train.fit import Fitter, Trained
from train.flops import count_flops
from train.module import apply_masks
from train.plan import MemberJob, model_specs, plan, stored_spec
from train.postprocess import (
    filter_pruning_masks,
    prepare_finetune,
    weight_pruning_masks,
    within_budget,
)
from train.schema import ZooSpec

log = logging.getLogger(__name__)
# Test images a forward pass on the CPU: activations of 1024 CIFAR images overflow the caches
# (ResNet20 on 1000 test images: 0.72 s at 1024, 0.31 s at 128, the same logits bit for bit).
CPU_TEST_BATCH = 128


class ZooBuilder:
    """Builds the members of ``zoo`` (the typed zoo spec) on ``data``, under ``root``; the
    other arguments are :class:`train.fit.Fitter`'s. ``built`` and ``skipped`` name the
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
    ) -> None:
        self.zoo, self.data, self.root, self.device = zoo, data, Path(root), device
        self.fitter = Fitter(data, root, trainer, log_dir, wandb, checkpoint_every_n_epochs,
                             checkpoint_min_seconds)
        self._test: tuple[torch.Tensor, torch.Tensor] | None = None
        # group_size > 1: up to that many members of a seeded family train at once (train.group)
        self.group_size = max(1, int(group_size))
        self._jobs: list[MemberJob] = []            # the build's plan, where groups are formed
        self._grouped: dict[str, Member] = {}       # members trained with an earlier job's group
        self.built: list[str] = []
        self.skipped: list[str] = []

    def build(self, member: str = "all", seed: int | None = None) -> list[Member]:
        """Build the selected members (skipping finished ones); return every selected member
        but the pruning levels the 3 % rule rejected."""
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
        return done

    def check_memory(self, member: str = "all", available: int | None = None) -> int:
        """:func:`check_memory` with the loaded splits' sizes."""
        return check_memory(self.zoo, self.data.name, self.data.input_shape, member,
                            train_images=len(self.data.train), test_images=len(self.data.test),
                            available=available)

    def run(self, job: MemberJob, where: str | None = None) -> Member:
        """Build one member, or load it when a run before this one finished it; ``where``
        names the job in the line that says it starts (default: its name)."""
        if job.name in self._grouped:   # trained with the group of an earlier job
            return self._grouped.pop(job.name)
        if job.level is not None:
            rejected = member_dir(self.root, "rejected", job.name)
            if is_built(rejected):
                return self._skip(rejected)
        folder = member_dir(self.root, job.role, job.name)
        if is_built(folder):
            return self._skip(folder)
        epochs = job.recipe.epochs if job.recipe is not None else 0
        work = (f"training {epochs} epoch{'s' * (epochs != 1)}" if epochs
                else "training a forest" if job.kind == "forest" else "loading its weights")
        group = self._group(job)
        if len(group) > 1:
            work += f" together with {', '.join(j.name for j in group[1:])} (train.group)"
        log.info("%s (%s): %s", where or job.name, job.role, work)
        if len(group) > 1:
            return self._network_group(group)
        if job.kind == "forest":
            return self._forest(job)
        if not in_paper(job.kind):   # stealing suspects, harder negatives (docs/stealing.md)
            from train.beyond import build_beyond

            return build_beyond(self, job)
        return self._network(job)

    # ----------------------------------------------------------------- members
    def _network(self, job: MemberJob) -> Member:
        if job.level is not None and not len(self.data.test):
            raise IPGuardError(f"{job.name} keeps the 3 % rule only with test images: give "
                               f"dataset {self.data.name}'s folder")
        target: Member | None = None
        if job.derived:
            target, model = self._target_copy()
        else:
            L.seed_everything(job.seed, verbose=False)
            model = build_from_spec(job.model or {})
        return self._member(job, model, self._train(job, model), target)

    def _member(self, job: MemberJob, model: nn.Module, trained: Trained,
                target: Member | None = None) -> Member:
        """A trained network as a zoo member (its role, 3 % rule, parameters and FLOPs),
        saved."""
        model = model.eval()
        acc = trained.test_accuracy
        role, hyper = job.role, dict(job.hyper)
        if job.level is not None:
            role, hyper = _three_percent(job, _accuracy_of(target), acc)
        total, nonzero = count_parameters(model)
        flops = count_flops(model, self.data.input_shape)
        hyper |= {"flops": flops.effective, "flops_dense": flops.dense,
                  "flops_reduction": flops.reduction}
        member = Member(name=job.name, role=role, kind=job.kind, arch=job.arch, seed=job.seed,
                        parent=job.parent, test_accuracy=acc, parameters=total,
                        nonzero_parameters=nonzero, train_seconds=trained.seconds, hyper=hyper,
                        model=job.stored_model, path=str(member_dir(self.root, role, job.name)))
        return self._finish(member, model)

    def _train(self, job: MemberJob, model: nn.Module) -> Trained:
        """Post-process (fine-tuning, pruning) and train by the job's recipe, then measure the
        test accuracy; a job without one is a pretrained network, kept as loaded."""
        if job.recipe is None:
            return Trained(0.0, self._network_accuracy(model))
        fit = {"test": self._network_accuracy}
        if job.kind in FINETUNE:
            L.seed_everything(job.seed, verbose=False)
            fit["trainable"] = prepare_finetune(model, job.kind, job.seed)
        elif job.level is not None:
            prune = weight_pruning_masks if job.kind == "wp" else filter_pruning_masks
            fit["masks"] = masks = prune(model, job.level)
            apply_masks(model, masks)
            L.seed_everything(job.seed, verbose=False)
        return self.fitter.fit(model, job.recipe, job.seed, job.name, **fit)

    def _group(self, job: MemberJob) -> list[MemberJob]:
        """``job`` and the members after it in the plan that train with it: up to
        ``group_size`` unbuilt members of its seeded family (same constructor and recipe, not
        made from the target). Just ``job`` when grouping is off or it has no such peers."""
        groupable = (self.group_size > 1 and not job.derived and job.recipe is not None
                     and job.kind != "forest" and in_paper(job.kind) and job.level is None)
        if not groupable or job not in self._jobs:
            return [job]
        group = [job]
        for other in self._jobs[self._jobs.index(job) + 1:]:
            if len(group) == self.group_size:
                break
            if (other.family, other.kind, other.recipe, other.model, other.derived) != \
                    (job.family, job.kind, job.recipe, job.model, job.derived):
                continue
            if not is_built(member_dir(self.root, other.role, other.name)):
                group.append(other)
        return group

    def _network_group(self, jobs: list[MemberJob]) -> Member:
        """Train ``jobs`` (one family, one recipe) together (train.group), save each as
        :meth:`_network` would, and keep all but the first for their turn in the build."""
        from train.group import fit_group

        models, rng = [], []
        for job in jobs:
            L.seed_everything(job.seed, verbose=False)
            models.append(build_from_spec(job.model or {}))
            rng.append(torch.get_rng_state())   # the augmentation's stream when trained alone
        recipe = jobs[0].recipe
        assert recipe is not None
        name = f"group-{jobs[0].name}-{jobs[-1].name}"
        trained = fit_group(self.fitter, models, recipe, [j.seed for j in jobs],
                            [j.name for j in jobs], rng, name, test=self._network_accuracy)
        members = [self._member(job, model, t) for job, model, t in zip(jobs, models, trained,
                                                                        strict=True)]
        self.fitter.clear_partial(name)
        self._grouped.update({m.name: m for m in members[1:]})
        return members[0]

    def _forest(self, job: MemberJob) -> Member:
        start = time.perf_counter()
        x, y = self.data.train_tensors()
        trees = int(job.hyper["n_estimators"])
        _, ensemble = train_forest(x, y, n_estimators=trees, seed=job.seed)
        seconds = time.perf_counter() - start
        nodes = int(ensemble.left.size)   # node slots of the padded trees
        member = Member(name=job.name, role=job.role, kind="forest", arch="forest",
                        seed=job.seed, test_accuracy=self._accuracy(ForestClassifier(ensemble)),
                        parameters=nodes, nonzero_parameters=nodes, train_seconds=seconds,
                        hyper=dict(job.hyper),
                        path=str(member_dir(self.root, job.role, job.name)))
        return self._finish(member, ensemble)

    # ----------------------------------------------------------------- helpers
    def _target_copy(self) -> tuple[Member, nn.Module]:
        """The built target and a fresh copy of its network to post-process."""
        folder = member_dir(self.root, "target", "target")
        if not is_built(folder):
            raise MissingZooError(f"the target is not built yet at {folder}: positives need it; "
                                  "run `python -m train.zoo member=target` first")
        target = Member.load(folder)
        return target, target.load_module().train()

    def _network_accuracy(self, model: nn.Module) -> float | None:
        batch = CPU_TEST_BATCH if self.device == "cpu" else 1024
        return self._accuracy(TorchClassifier(model, batch_size=batch, device=self.device))

    def _accuracy(self, classifier: Classifier) -> float | None:
        """Test accuracy; None without test images (ImageNet weights saved without its
        folder)."""
        if not len(self.data.test):
            return None
        if self._test is None:
            self._test = self.data.test_tensors()
        return accuracy(classifier, *self._test)

    def _skip(self, folder: Path) -> Member:
        member = Member.load(folder)
        self.skipped.append(member.name)
        self.fitter.clear_partial(member.name)  # a run killed after writing member.json left it
        return member

    def _finish(self, member: Member, artifact: Any) -> Member:
        save_member(member, artifact)
        self.fitter.clear_partial(member.name)
        self.built.append(member.name)
        return member


def _work(job: MemberJob) -> int:
    """A job's share of a build's time, for the ETA: its epochs (1 without a recipe: a forest,
    pretrained weights)."""
    return job.recipe.epochs if job.recipe is not None else 1


def _accuracy_of(member: Member | None) -> float:
    return float(member.test_accuracy or 0.0) if member is not None else 0.0


def _three_percent(job: MemberJob, before: float, acc: float | None
                   ) -> tuple[str, dict[str, Any]]:
    """A pruned level's role (positive, or rejected when it loses more than the budget of
    the target's test accuracy ``before``) and its hyper-parameters: level, accuracy loss,
    budget."""
    after, budget = float(acc or 0.0), float(job.budget or 0.0)
    hyper = {PRUNING[job.kind]: job.level, "accuracy_loss": before - after,
             "max_accuracy_loss": budget, **job.hyper}
    if within_budget(before, after, budget):
        return "positive", hyper
    log.info("%s loses %.3f accuracy > %.3f: not a suspect, chain ends", job.name,
             hyper["accuracy_loss"], budget)
    return "rejected", hyper


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
