"""The zoo spec's auxiliary models (docs/schemes.md): the owner's own models that a scheme builds
its fingerprint with (CAE's surrogates and references), kept apart from the suspects it is
evaluated on: their own role and folder (``<zoo>/auxiliary/``), their own seeds
(``train.jobs.member_seed``), built only when selected (``member=auxiliary``).
``train.schema.ZooSpec.auxiliary`` holds them."""

from __future__ import annotations

from dataclasses import dataclass

from ipguard.app.schema import at_least, within
from ipguard.utils.errors import ConfigError
from train.recipe import Recipe

# Members of one auxiliary family: their seeds are target seed + offset + 0..MAX-1, so the
# families' seed ranges (train.jobs.BEYOND_OFFSETS) cannot meet.
MAX_AUXILIARY = 100


@dataclass
class AuxiliarySpec:
    """CAE's auxiliary models (Lukas et al., ICLR 2021), the owner's: ``surrogates`` students
    of the target's architecture distilled from the target on the owner's training data (the
    paper's surrogates learn the source model's outputs), ``references`` the target's
    architecture trained from scratch on the owner's data and labels with other seeds (the
    paper's references: independent models of the same task). Distillation as the zoo's
    thieves (``temperature``, ``alpha``); ``recipe`` null: the target's."""

    surrogates: int = 0
    references: int = 0
    temperature: float = 4.0
    alpha: float = 0.9
    recipe: Recipe | None = None

    def __post_init__(self) -> None:
        for name in ("surrogates", "references"):
            count = getattr(self, name)
            at_least(name, count, 0, "a member count is an integer >= 0")
            if count > MAX_AUXILIARY:
                raise ConfigError(name, count, f"at most {MAX_AUXILIARY} (their seeds would "
                                  "meet the next family's)")
        if self.temperature <= 0:
            raise ConfigError("temperature", self.temperature, "a temperature must be > 0")
        within("alpha", self.alpha, 0.0, 1.0,
               "the weight of the soft targets lies in [0, 1] (1: no true labels)")
