"""Uncertainty of the comparison: a paired bootstrap interval and McNemar's exact test.

Both models classify the same test images, so the comparison is paired. The bootstrap resamples
images with replacement (Efron & Tibshirani 1993, percentile interval). McNemar's test (McNemar
1947) looks only at the discordant images: under "the models are equally accurate", each of the
n = corrected + regressed discordant images is a fair coin flip, so the exact two-sided p-value is
2 * P(Binomial(n, 1/2) <= min(corrected, regressed)), capped at 1.
"""

from __future__ import annotations

import numpy as np


def paired_bootstrap_interval(
    correct_a: np.ndarray, correct_b: np.ndarray, resamples: int, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of accuracy(b) - accuracy(a) (fraction) over bootstrap resamples of the images.

    The difference of a resample depends only on how many resampled images have each per-image
    difference d = b - a in {-1, 0, 1}; resampling N images with replacement draws those counts
    from a multinomial, so we draw the counts directly: the same distribution, without (R, N) indices.
    """
    d = np.asarray(correct_b, dtype=np.int64) - np.asarray(correct_a, dtype=np.int64)
    values, counts = np.unique(d, return_counts=True)
    draws = np.random.default_rng(seed).multinomial(len(d), counts / len(d), size=resamples)  # (R, K)
    diffs = draws @ values / len(d)  # (R,)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return float(low), float(high)


def _log_binomial_pmf(n: int) -> np.ndarray:
    """log P(X = k) for X ~ Binomial(n, 1/2), k = 0..n, via log factorials (no overflow for large n)."""
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])
    return log_fact[n] - log_fact - log_fact[::-1] - n * np.log(2.0)


def mcnemar_exact_p(corrected: int, regressed: int) -> float:
    """Exact two-sided McNemar p-value on the discordant counts; 1.0 when there are none."""
    n = corrected + regressed
    if n == 0:
        return 1.0
    log_tail = np.logaddexp.reduce(_log_binomial_pmf(n)[: min(corrected, regressed) + 1])
    return float(min(1.0, 2.0 * np.exp(log_tail)))
