"""member.json's ``hyper`` read as typed fields: what a member records about how it was made (a
pruning level and the 3 % rule's numbers, FLOPs, an attacker's budget and API, a student's
temperature, a harder negative's data). Each kind writes its own keys and they are stored as
written (member.json, the records' suspects), so old zoos and stores read unchanged; every
reader goes through :class:`MemberHyper`, where each key's name and type are written once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ipguard.utils.errors import IPGuardError


@dataclass(frozen=True)
class MemberHyper:
    """The keys the suite reads, each None where the member's kind does not record it; the
    other keys (recipes, seeds, data provenance) are for the reader of member.json."""

    p: float | None = None                  # WP: fraction of the weights pruned
    c: float | None = None                  # FP: fraction of each convolution's filters pruned
    accuracy_loss: float | None = None      # pruning: test accuracy lost against the target
    max_accuracy_loss: float | None = None  # pruning: the 3 % rule's budget
    flops: int | None = None                # multiply-accumulates of the non-zero weights
    flops_dense: int | None = None
    flops_reduction: float | None = None
    n_estimators: int | None = None         # forest: trees
    agreement: float | None = None          # beyond the paper: share of test labels = target's
    student: str | None = None              # distillation, extraction: the student's family
    temperature: float | None = None        # distillation
    queries: int | None = None              # extraction: queries asked of the target's API
    api: str | None = None                  # extraction: "label" or "prob"
    epsilon: float | None = None            # adversarial fine-tuning: the L-inf bound
    half: str | None = None                 # harder negative: which half of the data (A or B)
    overlap: float | None = None            # harder negative: share shared with the target's

    @classmethod
    def of(cls, hyper: Mapping[str, Any]) -> MemberHyper:
        """The typed fields of ``hyper``; a value of the wrong type is an error naming it."""
        kinds = {f.name: f.type for f in fields(cls)}
        return cls(**{name: _typed(name, hyper[name], str(kind)) for name, kind in kinds.items()
                      if hyper.get(name) is not None})

    def level(self, name: str) -> float:
        """A pruning level by its name (``p`` or ``c``); 0 when not recorded."""
        value = getattr(self, name)
        return 0.0 if value is None else float(value)


def _typed(name: str, value: Any, kind: str) -> Any:
    """``value`` as the field's type: an int for int fields (a whole float such as 100.0, as
    some JSON writers give counts, accepted; never a bool), a float for float fields (ints
    accepted), a str for str fields."""
    if kind.startswith("int") and not isinstance(value, bool):
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    if kind.startswith("float") and isinstance(value, int | float) and not isinstance(value,
                                                                                       bool):
        return float(value)
    if kind.startswith("str") and isinstance(value, str):
        return value
    raise IPGuardError(f"member hyper-parameter {name}={value!r} should be "
                       f"{kind.split(' |')[0]}: the member.json was edited or written by "
                       "another tool; rebuild the member with `python -m train.zoo`")
