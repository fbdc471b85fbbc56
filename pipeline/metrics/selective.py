"""Selective prediction: wrong answers above confidence thresholds, a guardrail, the risk-coverage curve.

A selective classifier answers only when its confidence reaches a threshold and abstains
otherwise (Geifman & El-Yaniv 2017, "Selective Classification for Deep Neural Networks"). The
risk-coverage curve orders images by decreasing confidence; at coverage k/N its risk is the error
rate of the k most confident. Its area (AURC; Geifman, Uziel & El-Yaniv 2019) is the mean of that
risk over k = 1..N: lower is better, and it rewards a model whose errors sit at low confidence.
"""

from __future__ import annotations

import numpy as np


def wrong_at_or_above(
    confidence: np.ndarray, correct: np.ndarray, thresholds: tuple[float, ...]
) -> list[int]:
    """Number of wrong predictions with confidence >= t, for each threshold t (seed Figure 7)."""
    wrong_conf = np.asarray(confidence)[~np.asarray(correct, dtype=bool)]
    return [int((wrong_conf >= t).sum()) for t in thresholds]


def guardrail(confidence: np.ndarray, correct: np.ndarray, threshold: float) -> dict[str, float | int | None]:
    """Accept predictions with confidence >= threshold: coverage and accuracy (fractions), accepted wrong."""
    accepted = np.asarray(confidence) >= threshold
    right = np.asarray(correct, dtype=bool)[accepted]
    return {
        "coverage": float(accepted.mean()) if accepted.size else None,
        "accuracy": float(right.mean()) if right.size else None,
        "accepted_wrong": int((~right).sum()),
    }


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, risk), each (N,): the k most confident (ties: lower index first), k = 1..N."""
    order = np.argsort(-np.asarray(confidence), kind="stable")
    errors = np.cumsum(~np.asarray(correct, dtype=bool)[order])
    k = np.arange(1, len(order) + 1)
    return k / len(order), errors / k


def aurc(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Area under the risk-coverage curve (fraction): the mean risk over the N coverage levels."""
    _, risk = risk_coverage(confidence, correct)
    return float(risk.mean()) if risk.size else 0.0


def thin(n: int, max_points: int) -> np.ndarray:
    """At most max_points indices spread evenly over 0..n-1, first and last included: enough to draw."""
    return np.unique(np.round(np.linspace(0, n - 1, min(n, max_points))).astype(np.int64))
