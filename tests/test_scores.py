"""Softmax, confidence and correctness on hand-made logits."""

from __future__ import annotations

import numpy as np

from pipeline.scores import log_softmax, score, softmax


def test_softmax_by_hand_and_stable_for_large_logits() -> None:
    logits = np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]])
    np.testing.assert_allclose(softmax(logits), [[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(log_softmax(logits)[0], np.log([0.25, 0.75]))


def test_score_prediction_confidence_correctness() -> None:
    logits = np.array([[0.0, np.log(3.0)], [2.0, 2.0], [5.0, 0.0]], dtype=np.float32)
    before = logits.copy()
    s = score(logits, np.array([1, 1, 1]))
    np.testing.assert_array_equal(s.pred, [1, 0, 0])  # a tie goes to the first index, as torch.argmax
    np.testing.assert_allclose(s.confidence, [0.75, 0.5, 1 / (1 + np.exp(-5.0))])
    np.testing.assert_array_equal(s.correct, [True, False, False])
    np.testing.assert_array_equal(logits, before)
