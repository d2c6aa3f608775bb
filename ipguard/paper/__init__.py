"""The paper's Section 5 artifacts, one module each, and the registry the entry point
(``ipguard.figures``) loops over:

    fig3_6      Figures 3-6: ARUC against the swept parameter, a line per combo
    fig2        Figure 2: R/U curves of each method at its best setting
    table4      Table 4: the best ARUC of each method
    tables5_7   Tables 5-7: matching rates at each method's best setting
    table8      Table 8: extraction seconds (and the batching gain)
    tables1_2   Tables 1-2: the zoo's suspects and their accuracies
    verdicts_table  verdicts-<dataset>: thresholds calibrated to an FPR, held-out FPR, TPR
    stealing    stealing-<dataset>: stealing suspects and harder negatives (docs/stealing.md)

Each artifact is a pure function of the records (``Results``), for Tables 1-2 the loaded zoos,
and the few options it needs; it returns the tables and figures to write (``Output``)."""

from typing import Any

# The registry imports every artifact (and matplotlib); the figures config's schema
# (``ipguard.app.schema``) imports this package for the artifacts' options only, so the registry
# loads on first use.
_REGISTRY = ("ARTIFACTS", "Artifact", "Inputs", "sweeps_needed")


def __getattr__(name: str) -> Any:
    if name in _REGISTRY:
        from ipguard.paper import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'ipguard.paper' has no attribute {name!r}")


__all__ = list(_REGISTRY)
