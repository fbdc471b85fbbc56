"""Reading a run's eval.npz (pipeline/RESULTS.md) and looking up images and Grad-CAM maps in it.

numpy only. An `evals` mapping is {"baseline": arrays, "cutmix": arrays}, each as returned by
`load_eval_arrays`. The lookups return None where an ID was not evaluated or its image was not
stored, so that figures can draw a placeholder instead of failing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping

import numpy as np

# What the figures need; the logits stay on disk unless asked for.
FIGURE_KEYS: tuple[str, ...] = ("test_ids", "cam_pred", "cam_true", "shown_ids", "shown_images")


def load_eval_arrays(path: str | os.PathLike, keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays of one eval.npz as a plain dict (all of them, or only `keys` that it holds)."""
    with np.load(path, allow_pickle=False) as npz:
        names = npz.files if keys is None else [k for k in keys if k in npz.files]
        return {name: npz[name] for name in names}


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


def provenance_of(arrays: Mapping[str, np.ndarray]) -> dict:
    """The provenance record stored in eval.npz (JSON in a 0-d string array), as a dict."""
    return json.loads(str(np.asarray(arrays["provenance"])[()]))
