"""McNemar's exact test against the binomial formula; the paired bootstrap interval."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from pipeline.metrics.stats import mcnemar_exact_p, paired_bootstrap_interval


@pytest.mark.parametrize("b, c", [(1, 5), (5, 1), (0, 4), (7, 12), (10, 10), (0, 0)])
def test_mcnemar_equals_the_binomial_formula(b: int, c: int) -> None:
    n = b + c
    expected = min(1.0, 2 * sum(comb(n, k) for k in range(min(b, c) + 1)) / 2**n) if n else 1.0
    assert mcnemar_exact_p(b, c) == pytest.approx(expected, rel=1e-10)


def test_mcnemar_by_hand_and_for_thousands() -> None:
    assert mcnemar_exact_p(1, 5) == pytest.approx(2 * 7 / 64)
    p = mcnemar_exact_p(1938, 437)  # the study's migration counts: 0.5**2375 underflows without logs
    assert 0 < p < 1e-150
    assert mcnemar_exact_p(1000, 1000) == 1.0


def test_bootstrap_interval_contains_the_estimate_and_is_reproducible() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(3000) < 0.6
    b = rng.random(3000) < 0.75
    low, high = paired_bootstrap_interval(a, b, 2000, seed=42)
    point = b.mean() - a.mean()
    assert low < point < high
    assert (low, high) == paired_bootstrap_interval(a, b, 2000, seed=42)
    d = b.astype(float) - a.astype(float)
    normal_half_width = 1.96 * d.std() / np.sqrt(len(d))
    assert (high - low) / 2 == pytest.approx(normal_half_width, rel=0.1)


def test_bootstrap_of_identical_models_is_zero() -> None:
    a = np.array([True, False, True, True])
    assert paired_bootstrap_interval(a, a.copy(), 1000, seed=1) == (0.0, 0.0)
