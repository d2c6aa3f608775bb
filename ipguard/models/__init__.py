"""The architectures of the zoo (digits, CIFAR, ImageNet) and the pickle-free random forest; each
network carries its normalisation, so every model takes pixels in [0, 1]."""
