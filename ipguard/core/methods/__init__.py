"""Fingerprinting methods: small objects holding hyper-parameters, called on a batch.

``METHODS`` lists them in the paper's order (Random, FGSM, IGSM, CW-L2, IPGuard), then the
suite's variants; tables and figures take names and order from here."""

from ipguard.core.methods.base import PARAM_MATH, Method, MethodOutput
from ipguard.core.methods.cw import CWL2
from ipguard.core.methods.fgsm import FGSM
from ipguard.core.methods.igsm import IGSM
from ipguard.core.methods.ipguard import IPGuard, boundary_loss
from ipguard.core.methods.onepoint import OnePointIPGuard
from ipguard.core.methods.random import Random

METHODS: dict[str, type[Method]] = {
    cls.name: cls for cls in (Random, FGSM, IGSM, CWL2, IPGuard, OnePointIPGuard)
}


def method_class(name: str) -> type[Method] | None:
    """The class of a method by its short name (None for a method the suite does not ship)."""
    return METHODS.get(name)


def paper_name(name: str) -> str:
    """'IPGuard' for 'ipguard', and so on; unknown methods keep their own name."""
    cls = METHODS.get(name)
    return cls.title() if cls else name


def math_name(name: str) -> str:
    """The paper name in matplotlib's mathtext (CW-$L_2$)."""
    cls = METHODS.get(name)
    return cls.math_title() if cls else name


def swept_param(name: str, params: dict | None = None) -> str | None:
    """The parameter a method's figure sweeps; for a method the suite does not ship, its only
    parameter (None when it has several)."""
    cls = METHODS.get(name)
    if cls is not None:
        return cls.swept
    return next(iter(params)) if params and len(params) == 1 else None


def method_order(name: str) -> tuple[int, str]:
    """Sort key: the paper's order, then any other method by name."""
    names = list(METHODS)
    return (names.index(name) if name in names else len(names), name)


__all__ = [
    "Method", "MethodOutput", "IPGuard", "boundary_loss", "Random", "FGSM", "IGSM", "CWL2",
    "OnePointIPGuard", "METHODS", "PARAM_MATH", "method_class", "paper_name", "math_name",
    "swept_param", "method_order",
]
