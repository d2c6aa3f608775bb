"""What the builders that learn from the built target share (docs/stealing.md): the target
behind the API a thief queries, and distillation of the target onto given inputs (the
distilled thieves and the owner's surrogates). Kept apart from the builders, which import
neither each other nor the registry."""

from __future__ import annotations

import torch

from ipguard.core.classifier import TorchClassifier
from ipguard.zoo import Member
from train.builders.record import recipe_of, save_with_agreement, seeded_network
from train.context import BuildContext
from train.losses import Distillation, distillation_targets
from train.plan import MemberJob
from train.query_api import QueryAPI, network_api
from train.training_sets import attacker_data


def target_api(ctx: BuildContext, api_kind: str, budget: int) -> QueryAPI:
    """The built target behind the API the attacker queries (labels or probabilities), which
    answers at most ``budget`` queries."""
    _, network = ctx.target_copy()
    return network_api(network.eval(), api_kind, budget, ctx.device)


def distil(ctx: BuildContext, job: MemberJob, x: torch.Tensor, y: torch.Tensor) -> Member:
    """Train the job's network on the target's softened outputs for ``x`` (and ``y`` with
    weight 1 - alpha, the job's ``temperature`` and ``alpha``) and save it."""
    _, teacher = ctx.target_copy()
    logits = TorchClassifier(teacher, device=ctx.device).logits(x)
    t, alpha = float(job.hyper["temperature"]), float(job.hyper["alpha"])
    data = attacker_data(ctx.data, x, distillation_targets(logits, y, alpha))
    model = seeded_network(job)
    trained = ctx.fitter.fit(model, recipe_of(job), job.seed, job.name,
                             test=ctx.network_accuracy, data=data, loss=Distillation(t, alpha))
    return save_with_agreement(ctx, job, model, trained, {"examples": len(x)})
