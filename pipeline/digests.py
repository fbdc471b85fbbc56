"""The sha256 digests that prove data arrived intact, whatever file format or transfer carried it.

The dataset's checks (pipeline/data.py), the GPU job's bundle and its results archive
(pipeline/gpujob/) all compare these.
"""

from __future__ import annotations

import hashlib

import numpy as np


def content_digests(data: np.ndarray, fine: np.ndarray, coarse: np.ndarray) -> list[str]:
    """sha256 of the `data` bytes (uint8), `fine_labels` and `coarse_labels` as int64, whatever file
    format carried the arrays (pipeline/data.py's REBUILT_DIGESTS are of this kind)."""
    arrays = (
        np.ascontiguousarray(data, np.uint8),
        np.asarray(fine, np.int64),
        np.asarray(coarse, np.int64),
    )
    return [hashlib.sha256(a.tobytes()).hexdigest() for a in arrays]


def bytes_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
