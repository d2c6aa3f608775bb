"""member.json's ``hyper`` read as typed fields: what a member records about how it was made (a
pruning level and the 3 % rule's numbers, FLOPs, an attacker's budget and API, a student's
temperature, a harder negative's data). Each kind writes its own keys and they are stored as
written (member.json, the records' suspects), so old zoos and stores read unchanged; every
reader goes through :class:`MemberHyper`, where each key's name and type are written once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ipguard.utils.errors import IPGuardError
from ipguard.utils.jsonfields import FieldTypeError, typed_fields


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
        try:
            return cls(**typed_fields(cls, hyper, whole_floats=True))
        except FieldTypeError as exc:
            raise IPGuardError(f"member hyper-parameter {exc}: the member.json was edited or "
                               "written by another tool; rebuild the member with "
                               "`python -m train.zoo`") from None

    def level(self, name: str) -> float:
        """A pruning level by its name (``p`` or ``c``); 0 when not recorded."""
        value = getattr(self, name)
        return 0.0 if value is None else float(value)

