"""The failure cases of Tables 1 and 3, and an automatic gallery of confident mistakes.

The study picked five test images the baseline got confidently wrong (seed §4) and followed them
to the cutmix model (seed §7). A configured case that this run did not evaluate, or that the
baseline got right, is reported with that status rather than dropped: the report must not show
only the cases that tell the story. The gallery is picked by rule instead of by hand: the most
confidently wrong baseline predictions, at most one per predicted class.
"""

from __future__ import annotations

import numpy as np

from pipeline.scores import Scored


def status(baseline_correct: bool, cutmix_correct: bool) -> str:
    if baseline_correct:
        return "not_a_baseline_failure"
    return "fixed" if cutmix_correct else "still_wrong"


def _prediction(names: list[str], s: Scored, i: int, prefix: str) -> dict:
    """Predicted class and confidence (percent) of image position i under one model."""
    return {
        f"{prefix}_prediction": names[int(s.pred[i])],
        f"{prefix}_confidence": 100 * float(s.confidence[i]),
    }


CASE_FIELDS = ("id", "true_class", "evaluated", "baseline_prediction", "baseline_confidence")
CASE_FIELDS += ("cutmix_prediction", "cutmix_confidence", "confidence_change", "status")


def case_row(
    case_id: int, test_ids: np.ndarray, labels: np.ndarray, base: Scored, cut: Scored, names: list[str]
) -> dict:
    """One row of the cases table; confidences in percent, confidence_change in points (cutmix - baseline)."""
    row = dict.fromkeys(CASE_FIELDS) | {"id": int(case_id), "evaluated": False, "status": "not_evaluated"}
    where = np.flatnonzero(np.asarray(test_ids) == case_id)
    if where.size == 0:  # not in the evaluated subset: reported as such, never dropped
        return row
    i = int(where[0])
    return row | {
        "true_class": names[int(labels[i])],
        "evaluated": True,
        **_prediction(names, base, i, "baseline"),
        **_prediction(names, cut, i, "cutmix"),
        "confidence_change": 100 * float(cut.confidence[i] - base.confidence[i]),
        "status": status(bool(base.correct[i]), bool(cut.correct[i])),
    }


def confidently_wrong(s: Scored, n: int | None = None) -> np.ndarray:
    """Positions of the n most confidently wrong predictions (all when None), most confident first."""
    wrong = np.flatnonzero(~s.correct)
    return wrong[np.argsort(-s.confidence[wrong], kind="stable")][:n]  # ties: lower position first


def gallery_positions(s: Scored, size: int) -> np.ndarray:
    """Like `confidently_wrong`, but at most one per predicted class: the gallery of the report."""
    ranked = confidently_wrong(s)
    _, first = np.unique(s.pred[ranked], return_index=True)  # first = the most confident of each class
    return ranked[np.sort(first)[:size]]


def gallery_rows(
    test_ids: np.ndarray, labels: np.ndarray, base: Scored, cut: Scored, names: list[str], size: int
) -> list[dict]:
    """The gallery table: where each of the baseline's most confident mistakes lands under cutmix."""
    return [
        {
            "id": int(test_ids[i]),
            "true_class": names[int(labels[i])],
            **_prediction(names, base, i, "baseline"),
            **_prediction(names, cut, i, "cutmix"),
            "cutmix_correct": bool(cut.correct[i]),
        }
        for i in gallery_positions(base, size)
    ]
