"""The fine-tuned positives (FTLL, FTAL, RTLL, RTAL): a copy of the built target, its last
layer re-initialised (RT*) and its trainable layers chosen (*LL: the last only, *AL: all) by
train.postprocess, then trained by the kind's recipe."""

from __future__ import annotations

import lightning as L

from ipguard.zoo import Member
from train.builders.record import recipe_of, save_network
from train.context import BuildContext, Builder
from train.plan import MemberJob
from train.postprocess import prepare_finetune


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Fine-tune a copy of the target and save it."""
    _, model = ctx.target_copy()
    L.seed_everything(job.seed, verbose=False)
    trainable = prepare_finetune(model, job.kind, job.seed)
    trained = ctx.fitter.fit(model, recipe_of(job), job.seed, job.name, trainable=trainable,
                             test=ctx.network_accuracy)
    return save_network(ctx, job, model, trained)


BUILDER = Builder(build)
