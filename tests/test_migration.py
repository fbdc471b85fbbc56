"""Migration counts and per-class counts on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.metrics.migration import migration, per_class_counts


def test_migration_by_hand() -> None:
    a = np.array([False, False, True, True, False, False])
    b = np.array([True, False, False, True, False, True])
    conf_a = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    conf_b = np.array([0.5, 0.9, 0.5, 0.5, 0.2, 0.3])
    m = migration(a, b, conf_a, conf_b)
    # corrected: 0, 5; regressed: 2; wrong in both: 1 (b more confident), 4 (b less confident)
    assert m == {"corrected": 2, "regressed": 1, "net": 1, "wrong_both": 2, "wrong_both_less_confident": 0.5}
    assert a.sum() - b.sum() == -(m["corrected"] - m["regressed"])


def test_identical_models_have_zero_migration() -> None:
    a = np.array([True, False, False])
    m = migration(a, a.copy(), np.ones(3), np.ones(3))
    assert m == {"corrected": 0, "regressed": 0, "net": 0, "wrong_both": 2, "wrong_both_less_confident": 0.0}
    assert (
        migration(np.ones(2, bool), np.ones(2, bool), np.ones(2), np.ones(2))["wrong_both_less_confident"]
        is None
    )


def test_per_class_counts_by_hand() -> None:
    right, images = per_class_counts(np.array([True, False, True, True]), np.array([0, 0, 2, 2]), 4)
    np.testing.assert_array_equal(right, [1, 0, 2, 0])
    np.testing.assert_array_equal(images, [2, 0, 2, 0])
    assert right.dtype == images.dtype == np.int64
    assert pytest.approx(right[0] / images[0]) == 0.5
