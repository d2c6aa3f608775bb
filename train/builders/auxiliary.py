"""The owner's auxiliary models (train.schema_auxiliary, docs/schemes.md), the members a scheme
builds its fingerprint with and never a suspect: surrogates, students of the target distilled
from it on the owner's training data (CAE's surrogates learn the source model's outputs), and
references, the target's architecture trained from scratch on the owner's data and labels
(independent models of the same task). Each records its agreement with the target."""

from __future__ import annotations

from ipguard.zoo import Member
from train.builders.record import recipe_of, save_with_agreement, seeded_network
from train.builders.teacher import distil
from train.context import BuildContext, Builder
from train.plan import MemberJob


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Train one surrogate or reference and save it under ``auxiliary/``."""
    if job.kind == "surrogate":
        return surrogate(ctx, job)
    model = seeded_network(job)
    trained = ctx.fitter.fit(model, recipe_of(job), job.seed, job.name,
                             test=ctx.network_accuracy)
    return save_with_agreement(ctx, job, model, trained, {})


def surrogate(ctx: BuildContext, job: MemberJob) -> Member:
    """Distil the target into a fresh network of its architecture on the owner's data."""
    return distil(ctx, job, *ctx.data.train_tensors())


BUILDER = Builder(build)
