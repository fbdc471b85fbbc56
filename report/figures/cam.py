"""Grad-CAM maps for display: upsample a layer4 map (4 x 4 for a 32 x 32 image) to image size.

Pure functions from arrays to arrays (the style of jacobgil/pytorch-grad-cam's
`show_cam_on_image`): they never change their inputs.
"""

from __future__ import annotations

import numpy as np


def _axis_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) linear-interpolation matrix, pixel centres aligned (align_corners=False)."""
    x = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5  # source coordinate of each output centre
    x = np.clip(x, 0, n_in - 1)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = np.zeros((n_out, n_in))
    w[np.arange(n_out), lo] += 1 - (x - lo)
    w[np.arange(n_out), hi] += x - lo
    return w


def upsample_bilinear(cam: np.ndarray, size: int) -> np.ndarray:
    """(h, w) map -> (size, size) by bilinear interpolation, as torch's interpolate(align_corners=False)."""
    cam = np.asarray(cam, dtype=np.float64)
    return _axis_weights(cam.shape[0], size) @ cam @ _axis_weights(cam.shape[1], size).T


def normalise_max(cam: np.ndarray) -> np.ndarray:
    """Scale a non-negative map to [0, 1] by its maximum (an all-zero map stays zero)."""
    cam = np.clip(np.asarray(cam, dtype=np.float64), 0, None)
    top = cam.max()
    return cam / top if top > 0 else cam


def normalise_sum(cam: np.ndarray) -> np.ndarray:
    """A non-negative map as shares of its total (an all-zero map becomes uniform).

    Maps of two models are compared on one colour scale this way: a map that spreads its
    attention has lower peaks than one that fixates, whatever the models' logit scales.
    """
    cam = np.clip(np.asarray(cam, dtype=np.float64), 0, None)
    total = cam.sum()
    return cam / total if total > 0 else np.full_like(cam, 1.0 / cam.size)
