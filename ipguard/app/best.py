"""The best setting of a method, taken from the records of earlier sweeps (``store.best_from``):
how Tables 5-8 pick each method's setting, as the paper does (by the ARUC on every suspect),
and how the seeds sweep picks each combo's (by the ARUC on the validation half of the zoo's
suspects, ``store.choose_on=validation``; ipguard.results.holdout)."""

from __future__ import annotations

import dataclasses
import logging

from ipguard.app.config import typed
from ipguard.app.schema import BenchConfig
from ipguard.core.seeding import combo_suffix
from ipguard.results.holdout import aruc_on_validation
from ipguard.results.store import best_setting

log = logging.getLogger(__name__)


def with_best_setting(cfg: BenchConfig) -> BenchConfig:
    """``cfg`` with the method parameters and combo of the best-ARUC record of this method
    (or of the method it is tuned as) in the sweeps ``store.best_from``: how Tables 5-8 pick
    each method's setting, as the paper does; with ``store.best_per_combo``, the best of this
    job's combo."""
    method = cfg.method.build()
    combo = combo_suffix(str(cfg.init), str(cfg.label)) if cfg.store.best_per_combo else None
    score = aruc_on_validation if cfg.store.choose_on == "validation" else None
    best = best_setting(cfg.store.root, list(cfg.store.best_from), method.tuning_name(), combo,
                        score)
    spec = cfg.method.spec()
    for name, value in best.setting.params.items():
        if name in spec and not name.startswith("_"):  # never the _target_
            spec[name] = value
    # stored records are input too (a shared results folder): typed, then built, like a config
    chosen = typed(spec, type(cfg.method), "method")
    chosen.build()
    cfg = dataclasses.replace(cfg, method=chosen, init=type(cfg.init)(best.setting.init),
                              label=type(cfg.label)(best.setting.label))
    on = "the validation half's ARUC" if score is not None else "ARUC"
    log.info("best setting of %s in %s by %s: %s %s (%s %.4f, %s)", method.name,
             list(cfg.store.best_from), on, best.setting.method_label, best.setting.params,
             on, (score or (lambda r: r.aruc))(best), best.key)
    return cfg
