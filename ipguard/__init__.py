"""ipguard: fingerprint a DNN classifier by its classification boundary (IPGuard, AsiaCCS 2021).

The library works without Hydra::

    from ipguard import IPGuard, extract, verify, aruc
    fp = extract(target_module, IPGuard(k=3.0), init="train", label="least_likely",
                 n=100, train_x=x_train)
    rate = verify(fp, suspect_classifier).matching_rate
    score = aruc(positive_rates, negative_rates, r=100)
"""

from ipguard.core.classifier import Classifier, ForestClassifier, TorchClassifier
from ipguard.core.extract import extract
from ipguard.core.fingerprint import Fingerprint
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
from ipguard.core.verify import Verification, matching_rate, verify

__all__ = [
    "Classifier", "TorchClassifier", "ForestClassifier", "Fingerprint", "Method",
    "MethodOutput", "IPGuard", "Random", "FGSM", "IGSM", "CWL2", "OnePointIPGuard",
    "extract", "verify", "matching_rate", "Verification",
    "aruc", "auc", "gap", "robustness", "uniqueness", "score",
]
