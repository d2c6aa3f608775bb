"""The field's fingerprinting schemes behind one interface (docs/schemes.md).

``SCHEMES`` lists them: the paper's five methods as one scheme (``points``, named after its
method), the misclassification baseline (AKH), SAC-w and SAC-m, ModelDiff, conferrable
adversarial examples (CAE) and Zest. Each is made with its hyper-parameters, ``generate``s a
:class:`SchemeFingerprint` from the target (and, where it needs them, the owner's data and
auxiliary models) and ``score``s a suspect through a :class:`SuspectAPI` that exposes only
the access the scheme declares, returning a :class:`Score` (a similarity and the queries)."""

from ipguard.core.schemes.base import Auxiliary, MissingAuxiliary, Scheme, SchemeBase, Score
from ipguard.core.schemes.cae import CAE, conferrability, ensemble_conferrability, transfer
from ipguard.core.schemes.fingerprint import SchemeFingerprint
from ipguard.core.schemes.misclassified import Misclassified, cutmix, misclassified
from ipguard.core.schemes.modeldiff import ModelDiff, ddv, ddv_similarity
from ipguard.core.schemes.points import Points
from ipguard.core.schemes.sac import SACM, SACW, correlation_distance, correlation_matrix
from ipguard.core.schemes.suspect import ACCESS, NeedsProbabilities, SuspectAPI, as_suspect
from ipguard.core.schemes.zest import Zest, signature_similarity

SCHEMES: dict[str, type[SchemeBase]] = {
    cls.kind or cls.name: cls for cls in (Points, Misclassified, SACW, SACM, ModelDiff, CAE, Zest)
}


def scheme_class(name: str) -> type[SchemeBase] | None:
    """The class of a scheme by its registry name ("points", "akh", "sac_w", ...)."""
    return SCHEMES.get(name)


__all__ = [
    "SCHEMES", "scheme_class", "Scheme", "SchemeBase", "Score", "Auxiliary", "MissingAuxiliary",
    "SchemeFingerprint", "SuspectAPI", "as_suspect", "NeedsProbabilities", "ACCESS",
    "Points", "Misclassified", "SACW", "SACM", "ModelDiff", "CAE", "Zest",
    "misclassified", "cutmix", "correlation_matrix", "correlation_distance", "ddv",
    "ddv_similarity", "transfer", "conferrability", "ensemble_conferrability",
    "signature_similarity",
]
