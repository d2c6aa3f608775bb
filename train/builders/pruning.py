"""The pruned positives: a copy of the built target with a fraction p of its weights (WP) or
c of each convolution's filters (FP) masked to zero, retrained with the masks kept. A level is
a positive only while it keeps the paper's 3 % rule (its accuracy within the budget of the
target's); the first level that breaks it is saved under ``rejected/``, and the builder
(train.build) ends the chain there."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L

from ipguard.utils.errors import IPGuardError
from ipguard.zoo import Member
from ipguard.zoo.suspects import PRUNING
from train.builders.record import recipe_of, save_network
from train.context import BuildContext, Builder
from train.module import apply_masks
from train.plan import MemberJob
from train.postprocess import filter_pruning_masks, weight_pruning_masks, within_budget

log = logging.getLogger(__name__)
MASKS = {"wp": weight_pruning_masks, "fp": filter_pruning_masks}


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Prune a copy of the target at the job's level, retrain it, and save it as a positive
    or, when it breaks the 3 % rule, as rejected."""
    if job.level is None:
        raise IPGuardError(f"{job.name} is a {job.kind} member without a pruning level")
    if not len(ctx.data.test):  # type: ignore[arg-type]
        raise IPGuardError(f"{job.name} keeps the 3 % rule only with test images: give "
                           f"dataset {ctx.data.name}'s folder")
    target, model = ctx.target_copy()
    masks = MASKS[job.kind](model, job.level)
    apply_masks(model, masks)
    L.seed_everything(job.seed, verbose=False)
    trained = ctx.fitter.fit(model, recipe_of(job), job.seed, job.name, masks=masks,
                             test=ctx.network_accuracy)
    role, hyper = three_percent(job, float(target.test_accuracy or 0.0), trained.test_accuracy)
    return save_network(ctx, job, model, trained, role=role, hyper=hyper)


def three_percent(job: MemberJob, before: float, acc: float | None
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


BUILDER = Builder(build)
