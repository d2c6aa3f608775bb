"""The harder negatives (docs/stealing.md): the target's architecture and recipe trained from
scratch by an honest competitor on part of the target's training set: half A, half B, or a
set overlapping half A by the configured fraction (train.training_sets.overlap_indices)."""

from __future__ import annotations

from ipguard.zoo import Member
from train.builders.record import recipe_of, save_with_agreement, seeded_network
from train.context import BuildContext, Builder
from train.plan import MemberJob
from train.training_sets import halves, overlap_indices, subset_data


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Train the job's network on its part of the training set and save it with how much
    of half A's data it shares."""
    size = len(ctx.data.train)  # type: ignore[arg-type]
    a, b = halves(size, int(job.hyper["split_seed"]))
    if job.kind == "half":
        indices = a if job.hyper["half"] == "A" else b
    else:
        indices = overlap_indices(a, b, float(job.hyper["overlap"]))
    model = seeded_network(job)
    trained = ctx.fitter.fit(model, recipe_of(job), job.seed, job.name,
                             test=ctx.network_accuracy, data=subset_data(ctx.data, indices))
    shared_a = len(set(indices.tolist()) & set(a.tolist())) / max(1, len(indices))
    return save_with_agreement(ctx, job, model, trained, {
        "examples": len(indices), "share_of_target_data": len(indices) / size,
        "share_from_half_a": shared_a})


BUILDER = Builder(build)
