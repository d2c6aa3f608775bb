"""Training the zoo: the target, its post-processed versions and independent models."""
