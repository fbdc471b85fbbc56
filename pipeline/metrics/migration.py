"""How images move between the two models, overall and per class (seed §7, Figure 8).

Corrected: wrong under the baseline, right under cutmix; regressed: the reverse. Per-class
accuracy is over the test images of each class that were evaluated (100 per class in the full
test set; fewer in a subset).
"""

from __future__ import annotations

import numpy as np


def migration(
    correct_a: np.ndarray, correct_b: np.ndarray, confidence_a: np.ndarray, confidence_b: np.ndarray
) -> dict[str, int | float | None]:
    """Counts of corrected, regressed, net and wrong in both; and among the latter the share (fraction)
    where b is less confident than a (None when no image is wrong in both)."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    both = ~a & ~b
    less = np.asarray(confidence_b)[both] < np.asarray(confidence_a)[both]
    corrected, regressed = int((~a & b).sum()), int((a & ~b).sum())
    return {
        "corrected": corrected,
        "regressed": regressed,
        "net": corrected - regressed,
        "wrong_both": int(both.sum()),
        "wrong_both_less_confident": float(less.mean()) if less.size else None,
    }


def per_class_counts(
    correct: np.ndarray, labels: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """(right, images) per class, each (n_classes,) int64."""
    labels = np.asarray(labels)
    right = np.bincount(labels[np.asarray(correct, dtype=bool)], minlength=n_classes)
    return right.astype(np.int64), np.bincount(labels, minlength=n_classes).astype(np.int64)
