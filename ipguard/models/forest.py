"""Random forests stored and evaluated without pickle.

scikit-learn forests are normally saved with pickle, which runs code on load. Here a trained
forest is reduced to its trees' arrays (children, split feature, threshold, leaf class
fractions), stored with safetensors, and evaluated by a vectorised walk over all trees and
points at once. Predictions equal scikit-learn's ``predict`` (tested)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from sklearn.ensemble import RandomForestClassifier

LEAF = -1


@dataclass
class TreeEnsemble:
    """Padded per-tree arrays: ``left/right/feature`` (trees, nodes) int64, ``threshold``
    (trees, nodes) float64, ``value`` (trees, nodes, classes) float64 class fractions."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(self.value.shape[-1])

    @classmethod
    def from_sklearn(cls, forest: RandomForestClassifier) -> TreeEnsemble:
        trees = [est.tree_ for est in forest.estimators_]
        nodes = max(t.node_count for t in trees)
        classes = forest.n_classes_
        if not np.array_equal(forest.classes_, np.arange(classes)):
            raise ValueError("forest classes must be 0..C-1 (train it on integer labels)")
        left = np.full((len(trees), nodes), LEAF, dtype=np.int64)
        right = np.full_like(left, LEAF)
        feature = np.zeros_like(left)
        threshold = np.zeros((len(trees), nodes), dtype=np.float64)
        value = np.zeros((len(trees), nodes, classes), dtype=np.float64)
        for k, t in enumerate(trees):
            c = t.node_count
            left[k, :c], right[k, :c] = t.children_left, t.children_right
            feature[k, :c] = np.maximum(t.feature, 0)
            threshold[k, :c] = t.threshold
            counts = t.value[:, 0, :]
            value[k, :c] = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)
        return cls(left, right, feature, threshold, value)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Mean leaf class fractions over trees, as scikit-learn's forest computes them."""
        # scikit-learn compares float32 features with float64 thresholds.
        x = np.asarray(x, dtype=np.float32).reshape(len(x), -1).astype(np.float64)
        trees = self.left.shape[0]
        rows = np.arange(trees)[:, None]
        node = np.zeros((trees, len(x)), dtype=np.int64)
        points = np.arange(len(x))[None, :]
        while True:
            left = self.left[rows, node]
            inner = left != LEAF
            if not inner.any():
                break
            go_left = x[points, self.feature[rows, node]] <= self.threshold[rows, node]
            nxt = np.where(go_left, left, self.right[rows, node])
            node = np.where(inner, nxt, node)
        return self.value[rows, node].mean(axis=0)

    def save(self, path: str | Path) -> None:
        save_file(
            {k: np.ascontiguousarray(getattr(self, k)) for k in self.__dataclass_fields__},
            str(path),
        )

    @classmethod
    def load(cls, path: str | Path) -> TreeEnsemble:
        arrays = load_file(str(path))
        missing = set(cls.__dataclass_fields__) - set(arrays)
        if missing:
            raise ValueError(f"{path}: not a forest file, missing arrays {sorted(missing)}")
        return cls(**{k: arrays[k] for k in cls.__dataclass_fields__})


def train_forest(
    x: torch.Tensor, y: torch.Tensor, n_estimators: int = 20, seed: int = 0
) -> tuple[RandomForestClassifier, TreeEnsemble]:
    """Train scikit-learn's forest (default settings, as the paper) on flattened pixels."""
    forest = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=1)
    forest.fit(x.reshape(len(x), -1).numpy(), y.numpy())
    return forest, TreeEnsemble.from_sklearn(forest)
