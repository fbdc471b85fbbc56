"""Threshold counts, the guardrail and the risk-coverage curve on hand-made confidences."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.metrics.selective import aurc, guardrail, risk_coverage, thin, wrong_at_or_above

CONF = np.array([0.6, 0.9, 0.7, 0.8])
CORRECT = np.array([True, True, True, False])


def test_wrong_at_or_above_counts_and_is_monotone() -> None:
    conf = np.array([0.55, 0.9, 0.99, 0.995, 0.3, 0.7])
    correct = np.array([False, False, False, True, False, False])
    counts = wrong_at_or_above(conf, correct, (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99))
    assert counts == [4, 3, 3, 2, 2, 1, 1]  # >= is inclusive: 0.7 counts at 0.7, 0.99 at 0.99
    rng = np.random.default_rng(0)
    random_counts = wrong_at_or_above(rng.random(500), rng.random(500) < 0.5, tuple(np.linspace(0, 1, 21)))
    assert random_counts == sorted(random_counts, reverse=True)


def test_guardrail_by_hand() -> None:
    g = guardrail(CONF, CORRECT, 0.7)  # accepts 0.9, 0.7, 0.8: two right, one wrong
    assert g == {"coverage": 0.75, "accuracy": pytest.approx(2 / 3), "accepted_wrong": 1}
    assert guardrail(CONF, CORRECT, 0.95) == {"coverage": 0.0, "accuracy": None, "accepted_wrong": 0}


def test_risk_coverage_and_its_area_by_hand() -> None:
    coverage, risk = risk_coverage(CONF, CORRECT)  # order 0.9 ok, 0.8 wrong, 0.7 ok, 0.6 ok
    np.testing.assert_allclose(coverage, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0.0, 0.5, 1 / 3, 0.25])
    assert aurc(CONF, CORRECT) == pytest.approx((0 + 0.5 + 1 / 3 + 0.25) / 4)


def test_thin_keeps_ends_and_bounds_the_count() -> None:
    idx = thin(10_000, 501)
    assert idx[0] == 0 and idx[-1] == 9_999 and len(idx) == 501
    np.testing.assert_array_equal(thin(3, 501), [0, 1, 2])
