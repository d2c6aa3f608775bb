"""Distilled students (docs/stealing.md): the target's logits on its training inputs (its
soft outputs), and a student trained on them softened at temperature T, and on the true
labels with weight 1 - alpha."""

from __future__ import annotations

from ipguard.core.classifier import TorchClassifier
from ipguard.zoo import Member
from train.builders.record import recipe_of, save_with_agreement, seeded_network
from train.context import BuildContext, Builder
from train.losses import Distillation, distillation_targets
from train.plan import MemberJob
from train.training_sets import attacker_data


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Distil the target into the job's student and save it."""
    _, teacher = ctx.target_copy()
    x, y = ctx.data.train_tensors()
    logits = TorchClassifier(teacher, device=ctx.device).logits(x)
    t, alpha = float(job.hyper["temperature"]), float(job.hyper["alpha"])
    data = attacker_data(ctx.data, x, distillation_targets(logits, y, alpha))
    model = seeded_network(job)
    trained = ctx.fitter.fit(model, recipe_of(job), job.seed, job.name,
                             test=ctx.network_accuracy, data=data, loss=Distillation(t, alpha))
    return save_with_agreement(ctx, job, model, trained, {"examples": len(x)})


BUILDER = Builder(build)
