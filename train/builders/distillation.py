"""Distilled students (docs/stealing.md): the target's logits on the thief's labelled inputs
(by default the attacker's own data, which the target never saw; or the owner's training set,
the stronger thief), and a student trained on them softened at temperature T, and on the
inputs' own labels with weight 1 - alpha."""

from __future__ import annotations

from ipguard.zoo import Member
from train.builders.teacher import distil
from train.context import BuildContext, Builder
from train.plan import MemberJob


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Distil the target into the job's student and save it."""
    owner = job.hyper.get("data", "owner") == "owner"   # zoos built before the choice: owner's
    return distil(ctx, job, *(ctx.data if owner else ctx.attacker_data()).train_tensors())


BUILDER = Builder(build)
