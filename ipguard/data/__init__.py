"""Datasets as the suite sees them: pixels in [0, 1], integer labels, fixed splits."""

from ipguard.data.base import ImageData, stack
from ipguard.data.digits import load_digits_data

__all__ = ["ImageData", "stack", "load_digits_data"]

from ipguard.data.cifar import load_cifar  # noqa: E402
from ipguard.data.fashion_mnist import load_fashion_mnist  # noqa: E402
from ipguard.data.imagenet import load_imagenet  # noqa: E402

__all__ += ["load_cifar", "load_fashion_mnist", "load_imagenet"]
