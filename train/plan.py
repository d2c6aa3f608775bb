"""The zoo as a plan: which members a selection (``member=``, ``seed=``) builds, in build order,
each with its name, role, seed, recipe and constructor. Pure: it reads the typed zoo spec and
nothing else (no data, no model, no file), so every choice is checked before any work.

Every member's seed comes from :func:`member_seed`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ipguard.utils.errors import ConfigError
from ipguard.zoo.suspects import (
    AUXILIARY,
    FINETUNE,
    HARDER,
    PRUNING,
    STEALING,
    fraction_text,
    level_name,
)
from train.jobs import MemberJob, member_seed, stored_spec
from train.plan_beyond import beyond_jobs
from train.postprocess import pruning_levels
from train.recipe import Recipe
from train.schema import SeededSpec, ZooSpec

__all__ = ["GROUPS", "SELECTIONS", "MemberJob", "member_seed", "model_specs", "plan",
           "selections", "stored_spec"]

# What ``member=`` accepts besides the zoo's own families (zoo.negatives.archs):
SELECTIONS = ("all", "target", "positives", "negatives", "finetune", *FINETUNE, "wp", "fp",
              "same_arch", "forest", "stealing", *STEALING, "harder_neg", *HARDER,
              "auxiliary", *AUXILIARY)
# A group and what it stands for (the negatives add the zoo's families). ``all`` is the
# paper's zoo: the stealing suspects and harder negatives (docs/stealing.md) are built only
# when selected, ``member=stealing`` or one of their families; so are the owner's auxiliary
# models (``member=auxiliary``: CAE's surrogates and references, never suspects).
GROUPS = {"all": ("target", "positives", "negatives"), "positives": ("finetune", "wp", "fp"),
          "finetune": FINETUNE, "negatives": ("same_arch", "forest"),
          "stealing": (*STEALING, "harder_neg"), "harder_neg": HARDER, "auxiliary": AUXILIARY}

def model_specs(zoo: ZooSpec, built: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """The zoo's constructors and their config fields: the target's and each family's
    (``built``: only the families that have members)."""
    specs = [("zoo.target.model", zoo.target.model)]
    specs += [(f"zoo.negatives.archs.{name}.model", family.model)
              for name, family in zoo.negatives.archs.items() if family.count > 0 or not built]
    steal = zoo.stealing
    if steal.distill is not None:
        specs += [(f"zoo.stealing.distill.students.{name}.model", student.model)
                  for name, student in steal.distill.students.items()
                  if student.model is not None]
    for name, thieves in (("extraction", steal.extraction), ("jacobian", steal.jacobian)):
        if thieves is not None:
            specs += [(f"zoo.stealing.{name}.students.{key}.model", student.model)
                      for key, student in thieves.students.items() if student.model is not None]
    return specs


def selections(zoo: ZooSpec) -> tuple[str, ...]:
    """What ``member=`` accepts for this zoo: :data:`SELECTIONS` and the zoo's families."""
    return SELECTIONS + tuple(zoo.negatives.archs)


def plan(zoo: ZooSpec, member: str = "all", seed: int | None = None) -> list[MemberJob]:
    """The jobs ``member`` selects, in build order (target, positives, negatives). ``seed``
    keeps one seed of each selected seeded family (negatives), which must have it."""
    choices = selections(zoo)
    if member not in choices:
        raise ConfigError("member", member, f"choose one of {list(choices)}")
    kinds = _kinds(member, tuple(zoo.negatives.archs))
    if seed is not None:
        for family, spec in _seeded(zoo):
            seeds = spec.seeds()
            if family in kinds and seed not in seeds:
                raise ConfigError("seed", seed, f"the seeds of {family} are {seeds}")
    return [job for job in _all_jobs(zoo) if job.kind in kinds
            and (seed is None or job.role != "negative" or job.seed == seed)]


def _kinds(member: str, families: tuple[str, ...]) -> set[str]:
    """A selection and every family its groups stand for."""
    groups = {**GROUPS, "negatives": (*GROUPS["negatives"], *families)}
    kinds, todo = set(), [member]
    while todo:
        name = todo.pop()
        kinds.add(name)
        todo.extend(groups.get(name, ()))
    return kinds


def _seeded(zoo: ZooSpec) -> Iterator[tuple[str, SeededSpec]]:
    yield "same_arch", zoo.negatives.same_arch
    yield from zoo.negatives.archs.items()
    yield "forest", zoo.negatives.forest


def _all_jobs(zoo: ZooSpec) -> Iterator[MemberJob]:
    target = zoo.target
    t_seed = target.seed
    yield MemberJob("target", "target", "target", "target", target.arch,
                    member_seed("target", target_seed=t_seed), target.recipe, dict(target.model),
                    hyper=_pretrained(target.recipe, target.model))
    derived = {"role": "positive", "arch": target.arch, "model": dict(target.model),
               "parent": "target"}
    pos = zoo.positives
    for kind in FINETUNE:
        if kind in pos.finetune:
            yield MemberJob(kind, kind=kind, family="finetune", recipe=pos.finetune[kind],
                            seed=member_seed(kind, target_seed=t_seed), **derived)
    for kind, name in PRUNING.items():
        prune = getattr(pos, kind)
        if prune is None:
            continue
        for level in pruning_levels(prune.step, prune.largest):
            hyper: dict[str, Any] = {name: level}
            if kind == "fp":
                hyper["c_fraction"] = fraction_text(level)
            yield MemberJob(level_name(kind, level), kind=kind, family=kind,
                            seed=member_seed(kind, target_seed=t_seed, level=level),
                            recipe=prune.recipe, level=level, budget=pos.max_accuracy_loss,
                            hyper=hyper, **derived)
    same = zoo.negatives.same_arch
    recipe = same.recipe or target.recipe
    for s in same.seeds():
        yield _negative("same_arch", target.arch, s, recipe, target.model)
    for family, spec in zoo.negatives.archs.items():
        for s in spec.seeds():
            yield _negative(family, spec.arch, s, spec.recipe, spec.model)
    forest = zoo.negatives.forest
    for s in forest.seeds():
        yield MemberJob(f"forest-s{s}", "negative", "forest", "forest", "forest",
                        member_seed("forest", seed=s),
                        hyper={"n_estimators": forest.n_estimators})
    yield from beyond_jobs(zoo)
    yield from auxiliary_jobs(zoo)


def auxiliary_jobs(zoo: ZooSpec) -> Iterator[MemberJob]:
    """The owner's auxiliary models (train.schema_auxiliary), role ``auxiliary``: surrogates
    distilled from the target, then references trained from scratch, each of the target's
    architecture, with seeds of their own (:func:`member_seed`)."""
    aux, target = zoo.auxiliary, zoo.target
    recipe = aux.recipe or target.recipe
    if recipe is None and aux.surrogates + aux.references:
        raise ConfigError("zoo.auxiliary.recipe", None, "the target is pretrained (no recipe "
                          "to copy): give the auxiliary models a recipe")
    model = stored_spec(target.model)
    for i in range(aux.surrogates):
        yield MemberJob(f"surrogate-{i}", "auxiliary", "surrogate", "surrogate", target.arch,
                        member_seed("surrogate", target_seed=target.seed, index=i), recipe,
                        model, parent="target",
                        hyper={"distilled": True, "temperature": aux.temperature,
                               "alpha": aux.alpha, "data": "owner"})
    for i in range(aux.references):
        yield MemberJob(f"reference-{i}", "auxiliary", "reference", "reference", target.arch,
                        member_seed("reference", target_seed=target.seed, index=i), recipe,
                        model, hyper={"data": "owner"})


def _negative(family: str, arch: str, seed: int, recipe: Recipe | None, model: Any
              ) -> MemberJob:
    """An independent model: trained from scratch with its own seed (or loaded pretrained)."""
    return MemberJob(f"{family}-s{seed}", "negative", family, family, arch,
                     member_seed(family, seed=seed), recipe, dict(model),
                     hyper=_pretrained(recipe, model))


def _pretrained(recipe: Recipe | None, model: Any) -> dict[str, Any]:
    """Where a loaded (not trained) member's weights came from."""
    return {} if recipe is not None else {"pretrained": model.get("weights")}
