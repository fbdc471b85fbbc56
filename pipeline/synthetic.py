"""Tiny learnable stand-ins for CIFAR-100 in the exact pickle layout, for tests and `--synthetic`.

Class c is a shape (c // 10 of ten) in a colour (c % 10 of ten hues) at a jittered position on a
noisy dark background, so a network learns it in a few epochs and a machine with no data and no
network can run the whole chain. Reports built from it say so (data.Splits.source).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from pipeline.data import FOLDER, SYNTHETIC_MARKER
from pipeline.files import write_bytes, write_text

_HUES = np.array(
    [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 190]],
    dtype=np.float32,
)  # fmt: skip


def _shape_masks(shape: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """(N,) shape ids and offsets -> (N, 32, 32) boolean masks of ten simple shapes."""
    y, x = np.mgrid[0:32, 0:32].astype(np.float32)
    y = y[None] - 16 - dy[:, None, None]
    x = x[None] - 16 - dx[:, None, None]
    r = np.hypot(y, x)
    masks = np.stack(
        [
            np.abs(y) < 3,  # horizontal bar
            np.abs(x) < 3,  # vertical bar
            (np.abs(y) < 8) & (np.abs(x) < 8),  # square
            r < 9,  # disc
            np.abs(y - x) < 3,  # diagonal
            (np.abs(y) < 2) | (np.abs(x) < 2),  # cross
            (r > 6) & (r < 10),  # ring
            ((np.floor(y / 4) + np.floor(x / 4)) % 2 == 0) & (r < 12),  # checker patch
            (y > -8) & (y < 8) & (np.abs(x) < (y + 8) / 2),  # triangle
            (np.hypot(y % 8 - 4, x % 8 - 4) < 2) & (r < 13),  # dots
        ]
    )  # (10, N, 32, 32)
    return masks[shape, np.arange(len(shape))]


def make_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """labels (N,) -> uint8 (N, 3072) rows of R, G, B planes, as in the CIFAR pickles."""
    n = len(labels)
    dy, dx = rng.integers(-4, 5, size=(2, n)).astype(np.float32)
    mask = _shape_masks(labels // 10, dy, dx)[:, None]  # (N, 1, 32, 32)
    colour = _HUES[labels % 10][:, :, None, None] * rng.uniform(0.7, 1.0, size=(n, 1, 1, 1))
    background = rng.uniform(0, 90, size=(n, 3, 1, 1)) + rng.normal(0, 12, size=(n, 3, 32, 32))
    images = np.where(mask, colour, background) + rng.normal(0, 8, size=(n, 3, 32, 32))
    return np.clip(images, 0, 255).astype(np.uint8).reshape(n, 3072)


def _entry(labels: np.ndarray, split: str, rng: np.random.Generator, chunk: int = 4096) -> dict:
    # In chunks: the masks of all ten shapes for 50,000 images at once would take gigabytes.
    data = np.concatenate([make_images(labels[i : i + chunk], rng) for i in range(0, len(labels), chunk)])
    return {
        "data": data,
        "fine_labels": labels.tolist(),
        "coarse_labels": (labels // 5).tolist(),
        "filenames": [f"synthetic_{split}_{i:05d}.png" for i in range(len(labels))],
        "batch_label": f"synthetic {split}",
    }


def write_synthetic(root: Path, n_train: int = 50_000, n_test: int = 10_000, seed: int = 0) -> Path:
    """Write root/cifar-100-python/{train,test,meta,SYNTHETIC}; classes balanced and in random order."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / FOLDER
    entries = {
        "train": _entry(rng.permutation(np.arange(n_train) % 100), "train", rng),
        "test": _entry(rng.permutation(np.arange(n_test) % 100), "test", rng),
        "meta": {
            "fine_label_names": [f"shape{c // 10}_hue{c % 10}" for c in range(100)],
            "coarse_label_names": [f"group{g}" for g in range(20)],
        },
    }
    for name, entry in entries.items():
        write_bytes(folder / name, pickle.dumps(entry, protocol=2))
    write_text(
        folder / SYNTHETIC_MARKER, "synthetic stand-in for CIFAR-100, written by pipeline/synthetic.py\n"
    )
    return folder
