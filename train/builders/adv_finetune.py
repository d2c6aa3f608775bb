"""The adversarially fine-tuned target (docs/stealing.md): a copy of the built target
fine-tuned on PGD examples of its training batches (train.adversarial)."""

from __future__ import annotations

import lightning as L

from ipguard.zoo import Member
from train.adversarial import PGD
from train.builders.record import recipe_of, save_with_agreement
from train.context import BuildContext, Builder
from train.plan import MemberJob


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Fine-tune a copy of the target on PGD examples of the job's budget and save it."""
    _, model = ctx.target_copy()
    h = job.hyper
    attack = PGD(float(h["epsilon"]), int(h["steps"]), float(h["step_size"]))
    L.seed_everything(job.seed, verbose=False)
    trained = ctx.fitter.fit(model, recipe_of(job), job.seed, job.name,
                             test=ctx.network_accuracy, perturb=attack)
    return save_with_agreement(ctx, job, model, trained, {})


BUILDER = Builder(build)
