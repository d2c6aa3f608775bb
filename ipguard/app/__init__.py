"""The Hydra application: config schemas and wiring, the checks made before any work, the
console report, and the ``bench`` and ``figures`` entry points' bodies."""
