"""Failure-case rows with every status, and the gallery's one-per-predicted-class pick."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.cases import case_row, confidently_wrong, gallery_positions, gallery_rows
from pipeline.scores import score

NAMES = ["castle", "road", "house"]
IDS = np.array([10, 20, 30, 40, 50])
LABELS = np.array([0, 2, 1, 0, 2])
BASE = score(
    np.log(
        np.array([[0.1, 0.8, 0.1], [0.05, 0.05, 0.9], [0.1, 0.7, 0.2], [0.3, 0.6, 0.1], [0.95, 0.0, 0.05]])
        + 1e-12
    ),
    LABELS,
)
CUT = score(
    np.log(
        np.array([[0.6, 0.3, 0.1], [0.5, 0.1, 0.4], [0.2, 0.7, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]])
        + 1e-12
    ),
    LABELS,
)


def _row(case_id: int) -> dict:
    return case_row(case_id, IDS, LABELS, BASE, CUT, NAMES)


def test_case_rows_cover_every_status() -> None:
    fixed = _row(10)
    assert fixed["status"] == "fixed" and fixed["true_class"] == "castle"
    assert fixed["baseline_prediction"] == "road" and fixed["cutmix_prediction"] == "castle"
    assert fixed["baseline_confidence"] == pytest.approx(80.0) and fixed[
        "cutmix_confidence"
    ] == pytest.approx(60.0)
    assert fixed["confidence_change"] == pytest.approx(-20.0)
    assert _row(40)["status"] == "still_wrong" and _row(40)["confidence_change"] == pytest.approx(-10.0)
    assert _row(30)["status"] == "not_a_baseline_failure"
    missing = _row(99)
    assert missing["status"] == "not_evaluated" and not missing["evaluated"] and missing["true_class"] is None
    assert list(missing) == list(fixed)  # the same columns whatever the status


def test_confidently_wrong_and_gallery_one_per_predicted_class() -> None:
    # baseline wrong: pos 0 (road, .8), 3 (road, .6), 4 (castle, .95), 1 is right (house .9), 2 is right
    np.testing.assert_array_equal(confidently_wrong(BASE), [4, 0, 3])
    np.testing.assert_array_equal(confidently_wrong(BASE, 2), [4, 0])
    np.testing.assert_array_equal(gallery_positions(BASE, 8), [4, 0])  # pos 3 is a second "road"
    np.testing.assert_array_equal(gallery_positions(BASE, 1), [4])
    rows = gallery_rows(IDS, LABELS, BASE, CUT, NAMES, 8)
    assert [r["id"] for r in rows] == [50, 10]
    assert rows[0]["cutmix_correct"] is True and rows[0]["cutmix_prediction"] == "house"
    assert rows[0]["baseline_prediction"] == "castle" and rows[0]["baseline_confidence"] == pytest.approx(
        95.0
    )
