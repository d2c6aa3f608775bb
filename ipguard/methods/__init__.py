"""Fingerprinting methods: small objects holding hyper-parameters, called on a batch."""

from ipguard.methods.base import Method, MethodOutput
from ipguard.methods.cw import CWL2
from ipguard.methods.fgsm import FGSM
from ipguard.methods.igsm import IGSM
from ipguard.methods.ipguard import IPGuard, boundary_loss
from ipguard.methods.onepoint import OnePointIPGuard
from ipguard.methods.random import Random

__all__ = [
    "Method", "MethodOutput", "IPGuard", "boundary_loss", "Random", "FGSM", "IGSM", "CWL2",
    "OnePointIPGuard",
]
