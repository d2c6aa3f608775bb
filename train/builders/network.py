"""Networks built from their own constructor: the target, the same-architecture negatives and
the negatives of another architecture (zoo.negatives.archs). Trained from scratch with the
job's seed by its recipe, or, without a recipe, kept as loaded (pretrained weights) and only
measured. Members of one seeded family can also train together (train.group).

A network that trains to chance (test accuracy below 1.5x chance: a VGG-style net on CIFAR-10
at 10.6 %) is not a model of its family, and in the null it would pass for an independent
model that matches the fingerprint by luck. It is retrained with the next seed (its seed +
100 000, up to twice), says so in the log and in member.json (``retrained``: each failed seed
and its accuracy), and the build's summary lists it; one that never trains stops the build. Off with
``retrain_at_chance=false`` (smoke runs) and with ``trainer.fast_dev_run``."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import torch

from ipguard.utils.errors import IPGuardError
from ipguard.zoo import Member
from train.builders.record import recipe_of, save_network, seeded_network
from train.context import BuildContext, Builder
from train.fit import Trained
from train.group import fit_group
from train.plan import MemberJob

log = logging.getLogger(__name__)

CHANCE_FACTOR = 1.5      # below this many times chance accuracy, a network did not train
RETRIES = 2              # seeds tried after the job's own
RETRY_OFFSET = 100_000   # the next seed: far from every seed the plan derives


def trained_to_chance(accuracy: float | None, classes: int) -> bool:
    """Whether a test accuracy says the network did not learn (None: not measured)."""
    return accuracy is not None and accuracy < CHANCE_FACTOR / classes


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Build, train (or keep as loaded) and save one network."""
    return _build(ctx, job, [])


def _build(ctx: BuildContext, job: MemberJob, failed: list[dict[str, Any]]) -> Member:
    model = seeded_network(job)
    if job.recipe is None:
        return save_network(ctx, job, model, Trained(0.0, ctx.network_accuracy(model)))
    trained = ctx.fitter.fit(model, job.recipe, job.seed, job.name, test=ctx.network_accuracy)
    return _save_or_retry(ctx, job, model, trained, failed)


def _save_or_retry(ctx: BuildContext, job: MemberJob, model: torch.nn.Module, trained: Trained,
                   failed: list[dict[str, Any]]) -> Member:
    """Save a network that learnt; retrain one at chance with the next seed."""
    if not ctx.retrain_at_chance or not trained_to_chance(trained.test_accuracy,
                                                          ctx.data.num_classes):
        if failed:
            job = dataclasses.replace(job, hyper={**job.hyper, "retrained": failed})
        return save_network(ctx, job, model, trained)
    failed = [*failed, {"seed": job.seed, "test_accuracy": trained.test_accuracy}]
    tried = ", ".join(f"seed {f['seed']}: {f['test_accuracy']:.3f}" for f in failed)
    if len(failed) > RETRIES:
        raise IPGuardError(f"{job.name} trained to chance with every seed tried ({tried}; "
                           f"chance is {1 / ctx.data.num_classes:.3f}): check its recipe "
                           "(learning rate, epochs) in the zoo config")
    log.warning("%s trained to chance (%s): retraining it with seed %d", job.name, tried,
                job.seed + RETRY_OFFSET)
    ctx.fitter.clear_partial(job.name)
    return _build(ctx, dataclasses.replace(job, seed=job.seed + RETRY_OFFSET), failed)


def build_group(ctx: BuildContext, jobs: Sequence[MemberJob]) -> list[Member]:
    """Train ``jobs`` (one family, one recipe) together and save each as :func:`build` would:
    every member starts from the weights and the RNG stream it gets when built alone."""
    models, rng = [], []
    for job in jobs:
        models.append(seeded_network(job))
        rng.append(torch.get_rng_state())   # the augmentation's stream when trained alone
    name = f"group-{jobs[0].name}-{jobs[-1].name}"
    trained = fit_group(ctx.fitter, models, recipe_of(jobs[0]), [j.seed for j in jobs],
                        [j.name for j in jobs], rng, name, test=ctx.network_accuracy)
    members = [_save_or_retry(ctx, job, model, t, [])
               for job, model, t in zip(jobs, models, trained, strict=True)]
    ctx.fitter.clear_partial(name)
    return members


BUILDER = Builder(build, group=build_group)
