"""Superclass map, top confusions and the within-superclass share on hand-made labels."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.metrics.confusions import superclass_of, top_confusions, within_superclass_share

LABELS = np.array([0, 0, 0, 1, 1, 2, 3, 3])
COARSE = np.array([0, 0, 0, 0, 0, 1, 1, 1])
PRED = np.array([1, 1, 0, 0, 3, 3, 2, 3])


def test_superclass_map_and_inconsistency() -> None:
    np.testing.assert_array_equal(superclass_of(LABELS, COARSE, 5), [0, 0, 1, 1, -1])
    with pytest.raises(ValueError, match="two superclasses"):
        superclass_of(np.array([0, 0]), np.array([0, 1]), 2)


def test_top_confusions_counts_and_tie_order() -> None:
    # wrong pairs: (0,1) x2, (1,0), (1,3), (2,3), (3,2)
    assert top_confusions(LABELS, PRED, 5, 3) == [(0, 1, 2), (1, 0, 1), (1, 3, 1)]
    assert top_confusions(LABELS, LABELS, 5, 3) == []


def test_within_superclass_share_by_hand() -> None:
    sc = superclass_of(LABELS, COARSE, 5)
    # of the 6 errors, (0,1) x2, (1,0), (2,3), (3,2) stay inside; (1,3) leaves
    assert within_superclass_share(LABELS, PRED, sc) == pytest.approx(5 / 6)
    assert within_superclass_share(LABELS, LABELS, sc) is None
