"""Calibration: ECE, MCE, reliability bins, NLL, Brier score, and temperature scaling.

Guo et al. 2017, "On Calibration of Modern Neural Networks": M equal-width confidence bins
B_m = ((m-1)/M, m/M]; ECE = sum_m |B_m|/n |acc(B_m) - conf(B_m)| (the L1 form), MCE = max_m of the
gap over non-empty bins. Temperature scaling divides the logits by one T > 0 fitted on held-out
data by minimising NLL; it never changes the argmax, so accuracy stays the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from pipeline.scores import log_softmax, softmax

T_BOUNDS = (0.05, 20.0)  # temperatures searched; a trained network's T lies well inside (Guo et al.: ~1-3)


def bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """(N,) confidences -> bin m in 0..n_bins-1 of ((m)/M, (m+1)/M]; 0 goes to the first bin."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)


def reliability(confidence: np.ndarray, correct: np.ndarray, n_bins: int) -> dict[str, np.ndarray]:
    """Per bin: count, mean confidence and accuracy (NaN where a bin is empty)."""
    idx = bin_index(confidence, n_bins)
    count = np.bincount(idx, minlength=n_bins)
    conf_sum = np.bincount(idx, weights=confidence, minlength=n_bins)
    correct_sum = np.bincount(idx, weights=np.asarray(correct, dtype=np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"confidence": conf_sum / count, "accuracy": correct_sum / count, "count": count}


def ece(confidence: np.ndarray, correct: np.ndarray, n_bins: int) -> float:
    """Expected calibration error (fraction): bin gaps weighted by the share of images in the bin."""
    bins = reliability(confidence, correct, n_bins)
    gaps = np.abs(bins["accuracy"] - bins["confidence"])
    return float(np.nansum(gaps * bins["count"]) / max(len(confidence), 1))


def mce(confidence: np.ndarray, correct: np.ndarray, n_bins: int) -> float:
    """Maximum calibration error (fraction): the largest gap over the non-empty bins."""
    bins = reliability(confidence, correct, n_bins)
    gaps = np.abs(bins["accuracy"] - bins["confidence"])[bins["count"] > 0]
    return float(gaps.max()) if gaps.size else 0.0


def nll(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels, in nats."""
    logp = log_softmax(logits)
    return float(-logp[np.arange(len(labels)), labels].mean())


def brier(logits: np.ndarray, labels: np.ndarray) -> float:
    """Brier score: mean over images of the sum over classes of (p_k - 1[k = y])^2; 0..2."""
    diff = softmax(logits)
    diff[np.arange(len(labels)), labels] -= 1.0  # diff is a fresh array: the input is untouched
    return float((diff**2).sum(axis=1).mean())


def golden_section_min(f: Callable[[float], float], lo: float, hi: float, tol: float = 1e-7) -> float:
    """Minimiser of a unimodal f on [lo, hi] by golden-section search (Kiefer 1953)."""
    inv_phi = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - inv_phi * (b - a), a + inv_phi * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc <= fd:  # the minimum lies in [a, d]
            b, d, fd = d, c, fc
            c = b - inv_phi * (b - a)
            fc = f(c)
        else:  # in [c, b]
            a, c, fc = c, d, fd
            d = a + inv_phi * (b - a)
            fd = f(d)
    return (a + b) / 2


def fit_temperature(logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = T_BOUNDS) -> float:
    """The T minimising NLL(logits / T) (Guo et al. 2017), searched on log T.

    NLL(z / T) is convex in 1/T (log-sum-exp of a linear function minus a linear one), so it is
    unimodal in log T and a golden-section search finds the minimum.
    """
    logits = np.asarray(logits, dtype=np.float64)
    log_t = golden_section_min(lambda u: nll(logits / math.exp(u), labels), *np.log(bounds))
    return float(math.exp(log_t))
