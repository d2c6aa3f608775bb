"""The zoo as a plan: which members a selection (``member=``, ``seed=``) builds, in build order,
each with its name, role, seed, recipe and constructor. Pure: it reads the typed zoo spec and
nothing else (no data, no model, no file), so every choice is checked before any work.

Every member's seed comes from :func:`member_seed`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ipguard.utils.errors import ConfigError
from ipguard.zoo.suspects import FINETUNE, HARDER, PRUNING, STEALING, fraction_text, level_name
from train.postprocess import pruning_levels
from train.recipe import Recipe
from train.schema import API, SeededSpec, StudentSpec, ZooSpec

# What ``member=`` accepts besides the zoo's own families (zoo.negatives.archs):
SELECTIONS = ("all", "target", "positives", "negatives", "finetune", *FINETUNE, "wp", "fp",
              "same_arch", "forest", "stealing", *STEALING, "harder_neg", *HARDER)
# A group and what it stands for (the negatives add the zoo's families). ``all`` is the
# paper's zoo: the stealing suspects and harder negatives (docs/stealing.md) are built only
# when selected, ``member=stealing`` or one of their families.
GROUPS = {"all": ("target", "positives", "negatives"), "positives": ("finetune", "wp", "fp"),
          "finetune": FINETUNE, "negatives": ("same_arch", "forest"),
          "stealing": (*STEALING, "harder_neg"), "harder_neg": HARDER}
FINETUNE_OFFSET = 1000   # ftll, ftal, rtll, rtal: target seed + 1000 + 0..3
PRUNING_OFFSET = 2000    # wp / fp at level L: target seed + 2000 + round(1000 L)
# Beyond the paper: target seed + offset + the member's place i in its family's config list.
BEYOND_OFFSETS = {"distill": 3000, "extract_label": 3100, "extract_prob": 3200, "adv_ft": 3300,
                  "half": 4000, "overlap": 4100}
API_NAMES = {API.label: "label", API.prob: "probability"}
QUERY_OFFSET = 3099      # the order an extraction attacker draws its queries in (both APIs)


def member_seed(kind: str, *, target_seed: int = 0, seed: int | None = None,
                level: float | None = None, index: int | None = None) -> int:
    """The seed a member is built with (weights' initialisation, the re-initialised head,
    batch order, dropout, the forest's randomness); the one place zoo seeds are derived.

    - ``target``: ``zoo.target.seed``, as given (``target_seed``);
    - fine-tuned positives: ``target_seed + 1000 + i``, where i is the kind's place in
      (ftll, ftal, rtll, rtal): 1000, 1001, 1002, 1003 for a target of seed 0;
    - pruned positives (``wp`` / ``fp``) at level L: ``target_seed + 2000 + round(1000 * L)``
      with Python's ``round`` (half to even): WP p=0.1 -> 2100, FP c=1/16 -> 2062,
      FP c=2/16 -> 2125, FP c=3/16 -> 2188;
    - negatives (``same_arch``, another family, ``forest``): their own ``seed``, one of
      ``first_seed .. first_seed + count - 1`` of their family;
    - beyond the paper (docs/stealing.md), the i-th member (``index``) of its family in the
      config's order: ``distill`` 3000 + i (students, by name), ``extract_label`` 3100 + i and
      ``extract_prob`` 3200 + i (budgets), ``adv_ft`` 3300 + i (epsilons), ``half``
      4000 + i (A, B), ``overlap`` 4100 + i (fractions), plus the target's seed; and
      ``queries``, the order an extraction attacker draws its queries in: 3099.

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
    if kind == "queries":
        return int(target_seed) + QUERY_OFFSET
    if kind in BEYOND_OFFSETS:
        if index is None:
            raise ValueError(f"a {kind} member's seed needs its place in its family (index=)")
        return int(target_seed) + BEYOND_OFFSETS[kind] + int(index)
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
    steal = zoo.stealing
    if steal.distill is not None:
        specs += [(f"zoo.stealing.distill.students.{name}.model", student.model)
                  for name, student in steal.distill.students.items()
                  if student.model is not None]
    if steal.extraction is not None and steal.extraction.student.model is not None:
        specs.append(("zoo.stealing.extraction.student.model", steal.extraction.student.model))
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
    yield from _beyond_jobs(zoo)


def _beyond_jobs(zoo: ZooSpec) -> Iterator[MemberJob]:
    """The stealing suspects (positives: made from the target's outputs or weights) and the
    harder negatives (independent: the target's recipe on part of its data); every attack's
    settings ride in ``hyper``, which member.json records (docs/stealing.md)."""
    target, steal, t_seed = zoo.target, zoo.stealing, zoo.target.seed
    if steal.distill is not None:
        d = steal.distill
        for i, (name, student) in enumerate(sorted(d.students.items())):
            arch, model = _student(target, student)
            yield MemberJob(f"distill-{name}", "positive", "distill", "distill", arch,
                            member_seed("distill", target_seed=t_seed, index=i),
                            student.recipe, model, parent="target",
                            hyper={"attack": "distillation", "student": arch,
                                   "temperature": d.temperature, "alpha": d.alpha})
    if steal.extraction is not None:
        e = steal.extraction
        arch, model = _student(target, e.student)
        for api in (API.label, API.prob):
            if api not in e.apis:
                continue
            kind = f"extract_{api.value}"
            for i, budget in enumerate(e.budgets):
                yield MemberJob(
                    f"{kind}-q{budget or 'all'}", "positive", kind, kind, arch,
                    member_seed(kind, target_seed=t_seed, index=i), e.student.recipe, model,
                    parent="target",
                    hyper={"attack": f"extraction through the {API_NAMES[api]} API",
                           "api": api.value, "budget": budget, "source": e.source.value,
                           "student": arch,
                           "query_seed": member_seed("queries", target_seed=t_seed),
                           **({"holdout": e.holdout} if e.source == "holdout" else {}),
                           **({"pool": e.pool} if e.source == "noise" else {})})
    if steal.adv_ft is not None:
        a = steal.adv_ft
        for i, eps in enumerate(a.epsilons):
            steps = a.steps
            size = a.step_size if a.step_size is not None else 2.5 * eps / steps
            yield MemberJob(f"adv_ft-eps{eps:g}", "positive", "adv_ft", "adv_ft", target.arch,
                            member_seed("adv_ft", target_seed=t_seed, index=i), a.recipe,
                            dict(target.model), parent="target",
                            hyper={"attack": "PGD adversarial fine-tuning", "epsilon": eps,
                                   "steps": steps, "step_size": size, "norm": "linf"})
    if steal.harder is not None:
        h = steal.harder
        recipe = h.recipe or target.recipe
        if recipe is None:
            raise ConfigError("zoo.stealing.harder.recipe", None, "the target is pretrained "
                              "(no recipe to copy): give the harder negatives a recipe")
        common = {"split_seed": h.split_seed, "data": "training set"}
        if h.halves:
            for i, half in enumerate("ab"):
                yield MemberJob(f"half-{half}", "negative", "half", "half", target.arch,
                                member_seed("half", target_seed=t_seed, index=i), recipe,
                                stored_spec(target.model), hyper={**common, "half": half.upper()})
        for i, f in enumerate(h.overlaps):
            yield MemberJob(f"overlap-f{f:.2f}", "negative", "overlap", "overlap", target.arch,
                            member_seed("overlap", target_seed=t_seed, index=i), recipe,
                            stored_spec(target.model), hyper={**common, "overlap": f})


def _student(target: Any, student: StudentSpec) -> tuple[str, dict[str, Any]]:
    """A student's architecture and constructor: its own, or the target's (untrained: a
    pretrained target's weights are not the student's to start from)."""
    if student.model is None:
        return student.arch or target.arch, stored_spec(target.model)
    return student.arch or "student", stored_spec(student.model)


def _negative(family: str, arch: str, seed: int, recipe: Recipe | None, model: Any
              ) -> MemberJob:
    """An independent model: trained from scratch with its own seed (or loaded pretrained)."""
    return MemberJob(f"{family}-s{seed}", "negative", family, family, arch,
                     member_seed(family, seed=seed), recipe, dict(model),
                     hyper=_pretrained(recipe, model))


def _pretrained(recipe: Recipe | None, model: Any) -> dict[str, Any]:
    """Where a loaded (not trained) member's weights came from."""
    return {} if recipe is not None else {"pretrained": model.get("weights")}
