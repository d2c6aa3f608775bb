"""The zoo as a plan: which members a selection (``member=``, ``seed=``) builds, in build order,
each with its name, role, seed, recipe and constructor. Pure: it reads the typed zoo spec and
nothing else (no data, no model, no file), so every choice is checked before any work.

Every member's seed comes from :func:`member_seed`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ipguard.errors import ConfigError
from ipguard.suspects import FINETUNE, PRUNING, fraction_text, level_name
from train.postprocess import pruning_levels
from train.schema import Recipe, SeededSpec, ZooSpec

# What ``member=`` accepts besides the zoo's own families (zoo.negatives.archs):
SELECTIONS = ("all", "target", "positives", "negatives", "finetune", *FINETUNE, "wp", "fp",
              "same_arch", "forest")
# A group and what it stands for (the negatives add the zoo's families).
GROUPS = {"all": ("target", "positives", "negatives"), "positives": ("finetune", "wp", "fp"),
          "finetune": FINETUNE, "negatives": ("same_arch", "forest")}
FINETUNE_OFFSET = 1000   # ftll, ftal, rtll, rtal: target seed + 1000 + 0..3
PRUNING_OFFSET = 2000    # wp / fp at level L: target seed + 2000 + round(1000 L)


def member_seed(kind: str, *, target_seed: int = 0, seed: int | None = None,
                level: float | None = None) -> int:
    """The seed a member is built with (weights' initialisation, the re-initialised head,
    batch order, dropout, the forest's randomness); the one place zoo seeds are derived.

    - ``target``: ``zoo.target.seed``, as given (``target_seed``);
    - fine-tuned positives: ``target_seed + 1000 + i``, where i is the kind's place in
      (ftll, ftal, rtll, rtal): 1000, 1001, 1002, 1003 for a target of seed 0;
    - pruned positives (``wp`` / ``fp``) at level L: ``target_seed + 2000 + round(1000 * L)``
      with Python's ``round`` (half to even): WP p=0.1 -> 2100, FP c=1/16 -> 2062,
      FP c=2/16 -> 2125, FP c=3/16 -> 2188;
    - negatives (``same_arch``, another family, ``forest``): their own ``seed``, one of
      ``first_seed .. first_seed + count - 1`` of their family.

    The offsets keep the positives apart from the target and from the negatives' small seeds.
    """
    if kind == "target":
        return int(target_seed)
    if kind in FINETUNE:
        return int(target_seed) + FINETUNE_OFFSET + FINETUNE.index(kind)
    if kind in PRUNING:
        if level is None:
            raise ValueError(f"a {kind} member's seed needs its pruning level")
        return int(target_seed) + PRUNING_OFFSET + round(level * 1000)
    if seed is None:
        raise ValueError(f"a {kind} member's seed is its own: pass seed=")
    return int(seed)


@dataclass(frozen=True)
class MemberJob:
    """One member to build. ``role`` is where it goes (a pruned level that breaks the 3 % rule
    goes to ``rejected`` instead, and ends its chain); ``family`` the selection it belongs to
    (target, finetune, wp, fp, same_arch, a family of zoo.negatives.archs, forest)."""

    name: str
    role: str
    kind: str
    family: str
    arch: str
    seed: int
    recipe: Recipe | None = None          # None: loaded as constructed (pretrained), or a forest
    model: dict[str, Any] | None = None   # the constructor (positives: the target's)
    level: float | None = None            # a pruned positive's p (WP) or c (FP)
    parent: str | None = None
    budget: float | None = None           # a pruned positive's 3 % rule
    hyper: dict[str, Any] = field(default_factory=dict)   # recorded in member.json

    @property
    def derived(self) -> bool:
        """A positive: made from the built target, not from its constructor."""
        return self.parent is not None

    @property
    def stored_model(self) -> dict[str, Any] | None:
        return None if self.model is None else stored_spec(self.model)


def stored_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A constructor as member.json records it: pretrained weights live in the member's
    safetensors file, so the network is rebuilt without fetching them again."""
    return {**spec, "weights": None} if spec.get("weights") is not None else dict(spec)


def model_specs(zoo: ZooSpec, built: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """The zoo's constructors and their config fields: the target's and each family's
    (``built``: only the families that have members)."""
    specs = [("zoo.target.model", zoo.target.model)]
    specs += [(f"zoo.negatives.archs.{name}.model", family.model)
              for name, family in zoo.negatives.archs.items() if family.count > 0 or not built]
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


def _negative(family: str, arch: str, seed: int, recipe: Recipe | None, model: Any
              ) -> MemberJob:
    """An independent model: trained from scratch with its own seed (or loaded pretrained)."""
    return MemberJob(f"{family}-s{seed}", "negative", family, family, arch,
                     member_seed(family, seed=seed), recipe, dict(model),
                     hyper=_pretrained(recipe, model))


def _pretrained(recipe: Recipe | None, model: Any) -> dict[str, Any]:
    """Where a loaded (not trained) member's weights came from."""
    return {} if recipe is not None else {"pretrained": model.get("weights")}
