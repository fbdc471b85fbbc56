"""How spread out a Grad-CAM map is: its normalised entropy.

A layer4 map (4×4 for a 32×32 input, after the ReLU) is treated as a distribution over its cells:
p = map / sum(map). Its entropy divided by log(cells) is 1 for a uniform map and 0 when one cell
holds all the mass; the number behind the study's "CutMix spreads its attention more" (seed §7,
Figure 5). An all-zero map (no positive evidence for the class anywhere) has no distribution: NaN.
"""

from __future__ import annotations

import numpy as np


def normalised_entropy(maps: np.ndarray) -> np.ndarray:
    """(N, h, w) non-negative maps -> (N,) entropy / log(h·w) in [0, 1]; NaN for an all-zero map."""
    flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    total = flat.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = flat / total
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)  # 0 log 0 = 0
    entropy = terms.sum(axis=1) / np.log(flat.shape[1])
    return np.where(total[:, 0] > 0, entropy, np.nan)
