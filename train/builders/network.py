"""Networks built from their own constructor: the target, the same-architecture negatives and
the negatives of another architecture (zoo.negatives.archs). Trained from scratch with the
job's seed by its recipe, or, without a recipe, kept as loaded (pretrained weights) and only
measured. Members of one seeded family can also train together (train.group)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ipguard.zoo import Member
from train.builders.record import recipe_of, save_network, seeded_network
from train.context import BuildContext, Builder
from train.fit import Trained
from train.group import fit_group
from train.plan import MemberJob


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Build, train (or keep as loaded) and save one network."""
    model = seeded_network(job)
    if job.recipe is None:
        trained = Trained(0.0, ctx.network_accuracy(model))
    else:
        trained = ctx.fitter.fit(model, job.recipe, job.seed, job.name,
                                 test=ctx.network_accuracy)
    return save_network(ctx, job, model, trained)


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
    members = [save_network(ctx, job, model, t)
               for job, model, t in zip(jobs, models, trained, strict=True)]
    ctx.fitter.clear_partial(name)
    return members


BUILDER = Builder(build, group=build_group)
