"""From logits to what every analysis uses: probabilities, predictions, confidence, correctness.

Numpy only, in float64 so that the claims do not depend on float32 rounding. "Confidence" is the
maximum softmax probability, as in the study (seed §4, Figure 6) and Guo et al. 2017.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """(N, C) logits -> (N, C) log-probabilities, stable: shift by the row maximum first."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """(N, C) logits -> (N, C) probabilities, float64."""
    return np.exp(log_softmax(logits))


@dataclass(frozen=True)
class Scored:
    """One model's predictions on labelled images."""

    probs: np.ndarray  # (N, C) float64 softmax
    pred: np.ndarray  # (N,) int64 argmax
    confidence: np.ndarray  # (N,) float64 max softmax, in [1/C, 1]
    correct: np.ndarray  # (N,) bool


def score(logits: np.ndarray, labels: np.ndarray) -> Scored:
    """Softmax, argmax (first index on ties, as torch.argmax), confidence and correctness."""
    probs = softmax(logits)
    pred = probs.argmax(axis=1).astype(np.int64)
    return Scored(probs, pred, probs.max(axis=1), pred == np.asarray(labels))
