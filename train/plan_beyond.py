"""The plan's members beyond the paper (docs/stealing.md): the thieves, made from the target's
answers or weights (positives), and the harder negatives, independent models on part of the
owner's data. Pure, as train.plan."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ipguard.utils.errors import ConfigError
from train.jobs import API_NAMES, MemberJob, member_seed, stored_spec
from train.schema import API, StudentSpec, ZooSpec


def beyond_jobs(zoo: ZooSpec) -> Iterator[MemberJob]:
    """The stealing suspects (positives: made from the target's outputs or weights) and the
    harder negatives (independent: the target's recipe on part of its data); every attack's
    settings ride in ``hyper``, which member.json records (docs/stealing.md)."""
    target, steal, t_seed = zoo.target, zoo.stealing, zoo.target.seed
    if steal.distill is not None:
        d = steal.distill
        for i, (name, student) in enumerate(sorted(d.students.items())):
            arch, model = student_of(target, student)
            yield MemberJob(f"distill-{name}", "positive", "distill", "distill", arch,
                            member_seed("distill", target_seed=t_seed, index=i),
                            student.recipe, model, parent="target",
                            hyper={"attack": "distillation", "student": arch,
                                   "temperature": d.temperature, "alpha": d.alpha,
                                   "data": d.data.value})
    if steal.extraction is not None:
        e = steal.extraction
        for api in (API.label, API.prob):
            if api not in e.apis:
                continue
            kind = f"extract_{api.value}"
            for s, (name, student) in enumerate(e.students.items()):
                arch, model = student_of(target, student)
                for i, budget in enumerate(e.budgets):
                    yield MemberJob(
                        f"{kind}-{name}-q{budget or 'all'}", "positive", kind, kind, arch,
                        member_seed(kind, target_seed=t_seed, index=s * len(e.budgets) + i),
                        student.recipe, model, parent="target",
                        hyper={"attack": f"extraction through the {API_NAMES[api]} API",
                               "api": api.value, "budget": budget, "source": e.source.value,
                               "student": arch,
                               "query_seed": member_seed("queries", target_seed=t_seed),
                               **({"holdout": e.holdout} if e.source == "holdout" else {}),
                               **({"pool": e.pool} if e.source == "noise" else {})})
    if steal.jacobian is not None:
        j = steal.jacobian
        for s, (name, student) in enumerate(j.students.items()):
            arch, model = student_of(target, student)
            for i, rounds in enumerate(j.rounds):
                yield MemberJob(
                    f"extract_jacobian-{name}-r{rounds}", "positive", "extract_jacobian",
                    "extract_jacobian", arch,
                    member_seed("extract_jacobian", target_seed=t_seed,
                                index=s * len(j.rounds) + i),
                    student.recipe, model, parent="target",
                    hyper={"attack": "Jacobian-based dataset augmentation through the label "
                                     "API", "api": "label", "source": "attacker",
                           "seed_queries": j.seed_queries, "rounds": rounds, "step": j.step,
                           "round_epochs": j.round_epochs,
                           "budget": j.seed_queries * 2 ** rounds, "student": arch,
                           "query_seed": member_seed("queries", target_seed=t_seed)})
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


def student_of(target: Any, student: StudentSpec) -> tuple[str, dict[str, Any]]:
    """A student's architecture and constructor: its own, or the target's (untrained: a
    pretrained target's weights are not the student's to start from)."""
    if student.model is None:
        return student.arch or target.arch, stored_spec(target.model)
    return student.arch or "student", stored_spec(student.model)
