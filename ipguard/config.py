"""OmegaConf resolvers the configs use (registered once, before composition)."""

from __future__ import annotations

from omegaconf import OmegaConf

from ipguard.seeding import combo_suffix


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("ipguard.combo"):
        # ${ipguard.combo:${init},${label}} -> "TL" (Table 3's suffix without the dash)
        OmegaConf.register_new_resolver(
            "ipguard.combo", lambda init, label: combo_suffix(init, label).lstrip("-")
        )
