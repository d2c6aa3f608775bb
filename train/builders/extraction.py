"""Students extracted through the target's label or probability API (docs/stealing.md):
queries drawn from the attacker's pool (by default its own data, which the target never
saw), answered once by the API (saved, so a resumed member does not ask again), and a student
trained on the answers for as many optimiser steps as the whole pool's student."""

from __future__ import annotations

import dataclasses

from ipguard.zoo import Member
from train.builders.record import recipe_of, save_with_agreement, seeded_network
from train.builders.teacher import target_api
from train.context import BuildContext, Builder
from train.losses import SoftTargets
from train.plan import MemberJob
from train.query_api import (
    extraction_set,
    load_answers,
    query_pool,
    save_answers,
    steps_epochs,
)
from train.training_sets import attacker_data


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Ask the target (or read the saved answers), train the student on them and save it."""
    h = job.hyper
    source, budget, api_kind = str(h["source"]), int(h["budget"]), str(h["api"])
    holdout, noise = float(h.get("holdout", 0.5)), int(h.get("pool", 10000))
    folder = ctx.fitter.partial(job.name)
    answered = load_answers(folder)
    attacker = ctx.attacker_data() if source == "attacker" else None
    pool = query_pool(source, ctx.data, int(h["query_seed"]), holdout, noise, attacker)
    if answered is None:
        api = target_api(ctx, api_kind, budget or len(pool))
        answered = extraction_set(api, pool, budget, int(h["query_seed"]))
        save_answers(folder, *answered)
    queries, answers = answered
    recipe = recipe_of(job)
    size = len(pool)
    recipe = dataclasses.replace(recipe, epochs=steps_epochs(
        recipe.epochs, size, len(queries), recipe.batch_size))
    model = seeded_network(job)
    trained = ctx.fitter.fit(model, recipe, job.seed, job.name, test=ctx.network_accuracy,
                             data=attacker_data(ctx.data, queries, answers),
                             loss=SoftTargets() if api_kind == "prob" else None)
    return save_with_agreement(ctx, job, model, trained, {
        "queries": len(queries), "pool_size": size, "epochs": recipe.epochs})


BUILDER = Builder(build)
