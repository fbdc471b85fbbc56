"""Looking up images and Grad-CAM maps in a run's eval arrays (pipeline/RESULTS.md).

numpy only. An `evals` mapping is {"baseline": arrays, "cutmix": arrays}, each as returned by
`pipeline.evalfile.load_eval`. The lookups return None where an ID was not evaluated or its image was not
stored, so that figures can draw a placeholder instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def _row(ids: np.ndarray | None, test_id: int) -> int | None:
    """Index of test_id in an increasing ID array, or None."""
    if ids is None or len(ids) == 0:
        return None
    i = int(np.searchsorted(ids, test_id))
    return i if i < len(ids) and int(ids[i]) == test_id else None


def find_image(evals: Mapping[str, Mapping[str, np.ndarray]], test_id: int) -> np.ndarray | None:
    """The stored (32, 32, 3) uint8 image of a test ID, from whichever model's arrays hold it."""
    for arrays in evals.values():
        ids = arrays.get("shown_ids")
        if ids is None:
            continue
        hits = np.flatnonzero(np.asarray(ids) == test_id)
        if hits.size:
            return np.asarray(arrays["shown_images"][hits[0]])
    return None


def find_cam(
    arrays: Mapping[str, np.ndarray] | None, test_id: int, key: str = "cam_pred"
) -> np.ndarray | None:
    """The (4, 4) Grad-CAM map of a test ID in one model's arrays, or None if not evaluated."""
    if arrays is None or key not in arrays:
        return None
    i = _row(np.asarray(arrays.get("test_ids")), test_id)
    return None if i is None else np.asarray(arrays[key][i], dtype=np.float64)
