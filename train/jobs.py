"""A zoo member as a job to build (:class:`MemberJob`) and the seed it is built with
(:func:`member_seed`, the one place zoo seeds are derived); train.plan says which jobs a
selection builds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ipguard.zoo.suspects import FINETUNE, PRUNING
from train.recipe import Recipe
from train.schema import API

FINETUNE_OFFSET = 1000   # ftll, ftal, rtll, rtal: target seed + 1000 + 0..3
PRUNING_OFFSET = 2000    # wp / fp at level L: target seed + 2000 + round(1000 L)
# Beyond the paper: target seed + offset + the member's place i in its family's config list.
BEYOND_OFFSETS = {"distill": 3000, "extract_label": 3100, "extract_prob": 3200, "adv_ft": 3300,
                  "extract_jacobian": 3400, "half": 4000, "overlap": 4100,
                  # the owner's auxiliary models (train.schema_auxiliary: at most 100 each)
                  "surrogate": 4500, "reference": 4600}
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
      ``extract_prob`` 3200 + i (students in config order, then budgets: i = student *
      len(budgets) + budget), ``adv_ft`` 3300 + i (epsilons), ``extract_jacobian``
      3400 + i (students, then rounds), ``half`` 4000 + i (A, B), ``overlap`` 4100 + i
      (fractions), plus the target's seed;
    - the owner's auxiliary models (never suspects), the i-th of their family:
      ``surrogate`` 4500 + i and ``reference`` 4600 + i, plus the target's seed
      (below 5000, the spacing of a population's targets); and
    - ``queries``, the order an extraction attacker draws its queries in: 3099.

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
