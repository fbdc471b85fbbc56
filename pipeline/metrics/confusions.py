"""Confusions: the most frequent (true, predicted) pairs and the errors that stay in the superclass.

CIFAR-100 groups its 100 classes into 20 superclasses of 5 (Krizhevsky 2009). An error inside the
true class's superclass (lobster -> crab, both "non-insect invertebrates"; oak -> maple, both
"trees") is a near miss between look-alikes, the study's "known hard pairs" (seed §8).
"""

from __future__ import annotations

import numpy as np


def superclass_of(labels: np.ndarray, coarse: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes,) superclass of each fine class as seen in the labels; -1 for a class not seen."""
    labels, coarse = np.asarray(labels), np.asarray(coarse)
    mapping = np.full(n_classes, -1, dtype=np.int64)
    mapping[labels] = coarse
    if np.any(mapping[labels] != coarse):
        raise ValueError("test_coarse is inconsistent: one fine class has two superclasses")
    return mapping


def top_confusions(
    labels: np.ndarray, pred: np.ndarray, n_classes: int, k: int
) -> list[tuple[int, int, int]]:
    """The k most frequent (true, predicted, count) among wrong predictions; ties by (true, predicted)."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    wrong = labels != pred
    pairs, counts = np.unique(labels[wrong] * n_classes + pred[wrong], return_counts=True)
    order = np.argsort(-counts, kind="stable")[:k]  # np.unique sorted the pairs, so ties keep that order
    return [(int(pairs[i] // n_classes), int(pairs[i] % n_classes), int(counts[i])) for i in order]


def within_superclass_share(labels: np.ndarray, pred: np.ndarray, superclass: np.ndarray) -> float | None:
    """Share (fraction) of wrong predictions whose predicted class is in the true class's superclass."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    wrong = labels != pred
    if not wrong.any():
        return None
    return float((superclass[pred[wrong]] == superclass[labels[wrong]]).mean())
