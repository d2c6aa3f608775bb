"""ipguard: fingerprint a DNN classifier by its classification boundary (IPGuard, AsiaCCS 2021).

The library works without Hydra::

    from ipguard import IPGuard, extract, verify, aruc
    fp = extract(target_module, IPGuard(k=3.0), init="train", label="least_likely",
                 n=100, train_x=x_train)
    rate = verify(fp, suspect_classifier).matching_rate
    score = aruc(positive_rates, negative_rates, r=100)
    verdict = verify(fp, suspect_classifier, null=fit_null(negative_counts, 100)).verdict(0.01)
    verdict.decision, verdict.tau, verdict.supported, verdict.fpr_interval

and so do the field's fingerprinting schemes (docs/schemes.md)::

    from ipguard import SACW, SuspectAPI
    scheme = SACW()
    fp = scheme.generate(target_module, owner_x, owner_y, seed=0)
    similarity = scheme.score(fp, SuspectAPI(suspect_module)).value
"""

from ipguard.core.classifier import Classifier, ForestClassifier, TorchClassifier
from ipguard.core.extract import extract
from ipguard.core.fingerprint import Fingerprint
from ipguard.core.hierarchy import TargetHits, hierarchical_bootstrap
from ipguard.core.methods import (
    CWL2,
    FGSM,
    IGSM,
    IPGuard,
    Method,
    MethodOutput,
    OnePointIPGuard,
    Random,
)
from ipguard.core.metrics import aruc, auc, gap, robustness, score, uniqueness
from ipguard.core.null import NullModel, fit_null
from ipguard.core.roc import roc_auc, tpr_at_fpr
from ipguard.core.schemes import (
    CAE,
    SACM,
    SACW,
    SCHEMES,
    Auxiliary,
    Misclassified,
    ModelDiff,
    NeedsProbabilities,
    Points,
    Scheme,
    SchemeFingerprint,
    Score,
    SuspectAPI,
    Zest,
)
from ipguard.core.thresholds import clopper_pearson, threshold
from ipguard.core.verify import Verdict, Verification, matching_rate, verify

__all__ = [
    "Classifier", "TorchClassifier", "ForestClassifier", "Fingerprint", "Method",
    "MethodOutput", "IPGuard", "Random", "FGSM", "IGSM", "CWL2", "OnePointIPGuard",
    "extract", "verify", "matching_rate", "Verification", "Verdict",
    "threshold", "clopper_pearson", "roc_auc", "tpr_at_fpr", "hierarchical_bootstrap",
    "TargetHits", "NullModel", "fit_null",
    "aruc", "auc", "gap", "robustness", "uniqueness", "score",
    "SCHEMES", "Scheme", "Score", "SchemeFingerprint", "SuspectAPI", "NeedsProbabilities",
    "Auxiliary", "Points", "Misclassified", "SACW", "SACM", "ModelDiff", "CAE", "Zest",
]
