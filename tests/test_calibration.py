"""ECE, MCE, NLL, Brier and temperature scaling on hand-made examples; ECE against torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.metrics.calibration import (
    bin_index,
    brier,
    ece,
    fit_temperature,
    golden_section_min,
    mce,
    nll,
    reliability,
)
from pipeline.scores import score


def test_bin_index_uses_right_closed_bins() -> None:
    # Guo et al. 2017: B_m = ((m-1)/M, m/M]; 0 joins the first bin
    np.testing.assert_array_equal(
        bin_index(np.array([0.0, 0.25, 0.26, 0.5, 0.99, 1.0]), 4), [0, 0, 1, 1, 3, 3]
    )


def test_ece_and_mce_by_hand_two_bins() -> None:
    conf = np.array([0.3, 0.4, 0.8, 0.9])
    correct = np.array([False, True, True, False])
    # bin 1: mean conf 0.35, accuracy 0.5, gap 0.15; bin 2: mean conf 0.85, accuracy 0.5, gap 0.35
    assert ece(conf, correct, 2) == pytest.approx(0.5 * 0.15 + 0.5 * 0.35)
    assert mce(conf, correct, 2) == pytest.approx(0.35)
    bins = reliability(conf, correct, 2)
    np.testing.assert_allclose(bins["confidence"], [0.35, 0.85])
    np.testing.assert_allclose(bins["accuracy"], [0.5, 0.5])
    np.testing.assert_array_equal(bins["count"], [2, 2])


def test_ece_by_hand_fifteen_bins_one_sample_each() -> None:
    conf = np.array([0.3, 0.45, 0.75, 0.9])  # bins 4, 6, 11, 13 of 15
    correct = np.array([False, True, True, False])
    assert ece(conf, correct, 15) == pytest.approx((0.3 + 0.55 + 0.25 + 0.9) / 4)
    assert mce(conf, correct, 15) == pytest.approx(0.9)
    assert np.isnan(reliability(conf, correct, 15)["accuracy"][0])  # empty bins have no accuracy


def test_nll_and_brier_by_hand() -> None:
    logits = np.array([[0.0, np.log(3.0)], [np.log(7.0), np.log(2.0) + 0.0]])  # probs .25/.75, .7778/.2222
    labels = np.array([1, 1])
    assert nll(logits, labels) == pytest.approx(-(np.log(0.75) + np.log(2 / 9)) / 2)
    assert brier(logits, labels) == pytest.approx((2 * 0.25**2 + 2 * (7 / 9) ** 2) / 2)
    assert brier(np.array([[np.log(0.7), np.log(0.2), np.log(0.1)]]), np.array([0])) == pytest.approx(0.14)


def test_golden_section_finds_a_parabola_minimum() -> None:
    assert golden_section_min(lambda x: (x - 1.3) ** 2, -5, 5) == pytest.approx(1.3, abs=1e-6)


def _logits_at_temperature(
    t: float, n: int = 4000, c: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z) and logits z * t: temperature t undoes the scaling exactly."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2.0, size=(n, c))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    labels = (rng.random((n, 1)) > p.cumsum(1)).sum(1)
    return z * t, labels


def test_temperature_scaling_recovers_a_known_temperature_and_lowers_nll() -> None:
    logits, labels = _logits_at_temperature(2.5)
    before = logits.copy()
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(2.5, rel=0.08)
    assert nll(logits / t, labels) < nll(logits, labels)
    s_before, s_after = score(logits, labels), score(logits / t, labels)
    np.testing.assert_array_equal(s_before.pred, s_after.pred)  # scaling never changes the argmax
    np.testing.assert_array_equal(logits, before)


def test_ece_matches_torchmetrics() -> None:
    torch = pytest.importorskip("torch")
    metrics = pytest.importorskip("torchmetrics.classification")
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, size=(2000, 100)).astype(np.float32)
    labels = rng.integers(0, 100, 2000)
    logits[np.arange(1000), labels[:1000]] += 4.0  # half of them right, so both bins and gaps vary
    s = score(logits, labels)
    ours = ece(s.confidence, s.correct, 15)
    metric = metrics.MulticlassCalibrationError(num_classes=100, n_bins=15, norm="l1")
    theirs = float(metric(torch.from_numpy(logits).softmax(1), torch.from_numpy(labels)))
    assert ours == pytest.approx(theirs, abs=1e-5)
