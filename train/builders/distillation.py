"""Distilled students (docs/stealing.md): the target's logits on the thief's labelled inputs
(by default the attacker's own data, which the target never saw; or the owner's training set,
the stronger thief), and a student trained on them softened at temperature T, and on the
inputs' own labels with weight 1 - alpha."""

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
    owner = job.hyper.get("data", "owner") == "owner"   # zoos built before the choice: owner's
    x, y = (ctx.data if owner else ctx.attacker_data()).train_tensors()
    logits = TorchClassifier(teacher, device=ctx.device).logits(x)
    t, alpha = float(job.hyper["temperature"]), float(job.hyper["alpha"])
    data = attacker_data(ctx.data, x, distillation_targets(logits, y, alpha))
    model = seeded_network(job)
    trained = ctx.fitter.fit(model, recipe_of(job), job.seed, job.name,
                             test=ctx.network_accuracy, data=data, loss=Distillation(t, alpha))
    return save_with_agreement(ctx, job, model, trained, {"examples": len(x)})


BUILDER = Builder(build)
