"""The adaptive thief (docs/stealing.md): Jacobian-based dataset augmentation (Papernot et al.,
"Practical Black-Box Attacks against Machine Learning", AsiaCCS 2017, Algorithm 1). It starts
from a few of the attacker's own inputs labelled through the target's label API and, each
round, trains a substitute on every answer so far and asks about
x + step * sign(d F_{O(x)}(x) / dx) for every x so far (F the substitute, O(x) the target's
label): the set doubles and the new queries lie where the substitute's boundary is. One
:class:`train.query_api.QueryAPI` answers every round and counts the queries across the
calls; the budget is seed_queries * 2^rounds. The student is then trained by the job's recipe
on all the answers, for as many optimiser steps as a student of the attacker's whole pool.

Simplified from the paper: a constant step (the paper alternates its sign every few rounds
to stay near the data), and a fresh student trained on the final set (the paper keeps the
last substitute)."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn
from torch.nn import functional as F

from ipguard.zoo import Member
from train.builders.record import recipe_of, save_with_agreement, seeded_network
from train.builders.teacher import target_api
from train.context import BuildContext, Builder
from train.plan import MemberJob
from train.query_api import draw_queries, load_answers, save_answers, steps_epochs
from train.training_sets import attacker_data


def augment(substitute: nn.Module, x: torch.Tensor, labels: torch.Tensor, step: float
            ) -> torch.Tensor:
    """x + step * sign of the gradient of the substitute's logit of each x's label, in [0, 1]
    (the paper's Jacobian-based augmentation, one batch, no loop over points)."""
    substitute.eval()
    x = x.clone().requires_grad_(True)
    logits = substitute(x)
    grad, = torch.autograd.grad(logits.gather(1, labels.view(-1, 1)).sum(), x)
    return (x + step * grad.sign()).clamp(0.0, 1.0).detach()


def train_substitute(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int,
                     lr: float, batch_size: int, seed: int) -> nn.Module:
    """A round's substitute: Adam on (x, y) for ``epochs`` epochs in seeded order."""
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=gen).split(batch_size):
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return model


def steal(ctx: BuildContext, job: MemberJob) -> tuple[torch.Tensor, torch.Tensor]:
    """The attacker's queries and the target's labels after ``rounds`` rounds."""
    h = job.hyper
    seed_queries, rounds = int(h["seed_queries"]), int(h["rounds"])
    api = target_api(ctx, "label", seed_queries * 2 ** rounds)
    pool = ctx.attacker_data().train_tensors()[0]
    x = draw_queries(pool, seed_queries, int(h["query_seed"]))
    y = api.predict(x)
    recipe = recipe_of(job)
    for r in range(rounds):
        substitute = train_substitute(seeded_network(dataclasses.replace(job, seed=job.seed + r)),
                                      x, y, int(h["round_epochs"]), recipe.lr,
                                      recipe.batch_size, job.seed + r)
        new = augment(substitute, x, y, float(h["step"]))
        x, y = torch.cat([x, new]), torch.cat([y, api.predict(new)])
    return x, y


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Steal (or read the saved answers), train the student on them and save it."""
    folder = ctx.fitter.partial(job.name)
    answered = load_answers(folder)
    if answered is None:
        answered = steal(ctx, job)
        save_answers(folder, *answered)
    queries, answers = answered
    recipe = recipe_of(job)
    pool = len(ctx.attacker_data().train)  # type: ignore[arg-type]
    recipe = dataclasses.replace(recipe, epochs=steps_epochs(
        recipe.epochs, pool, len(queries), recipe.batch_size))
    model = seeded_network(job)
    trained = ctx.fitter.fit(model, recipe, job.seed, job.name, test=ctx.network_accuracy,
                             data=attacker_data(ctx.data, queries, answers))
    return save_with_agreement(ctx, job, model, trained, {
        "queries": len(queries), "pool_size": pool, "epochs": recipe.epochs})


BUILDER = Builder(build)
