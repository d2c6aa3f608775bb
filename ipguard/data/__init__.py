"""Datasets as the suite sees them: pixels in [0, 1], integer labels, fixed splits."""

from ipguard.data.base import ImageData, stack
from ipguard.data.digits import load_digits_data

__all__ = ["ImageData", "stack", "load_digits_data", "DATASET_TITLES", "dataset_title"]

# How tables and figures name each dataset (the paper's spelling).
DATASET_TITLES = {"digits": "Digits", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST",
                  "cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet": "ImageNet"}


def dataset_title(name: str) -> str:
    return DATASET_TITLES.get(name, name)


from ipguard.data.cifar import load_cifar  # noqa: E402
from ipguard.data.fashion_mnist import load_fashion_mnist  # noqa: E402
from ipguard.data.imagenet import load_imagenet  # noqa: E402

__all__ += ["load_cifar", "load_fashion_mnist", "load_imagenet"]
