"""Normalised entropy of Grad-CAM maps on hand-made maps."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.metrics.attention import normalised_entropy


def test_normalised_entropy_by_hand() -> None:
    maps = np.zeros((4, 4, 4), dtype=np.float32)
    maps[0] = 3.0  # uniform
    maps[1, 2, 3] = 5.0  # one cell
    maps[2, 0, :2] = 1.0  # two equal cells: log 2 / log 16
    before = maps.copy()
    h = normalised_entropy(maps)
    assert h[:3] == pytest.approx([1.0, 0.0, 0.25])
    assert np.isnan(h[3])  # all zero: no distribution
    np.testing.assert_array_equal(maps, before)


def test_normalised_entropy_is_scale_free() -> None:
    m = np.random.default_rng(0).random((5, 4, 4))
    np.testing.assert_allclose(normalised_entropy(m), normalised_entropy(7.5 * m))
