"""Fingerprinting methods: small objects holding hyper-parameters, called on a batch."""

from ipguard.methods.base import Method, MethodOutput
from ipguard.methods.ipguard import IPGuard, boundary_loss

__all__ = ["Method", "MethodOutput", "IPGuard", "boundary_loss"]
