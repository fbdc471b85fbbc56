"""The eval.npz file: its layout (pipeline/RESULTS.md), an atomic writer and a checked reader.

numpy only, so that the analysis and the report read evaluations without importing torch. Files
are read with allow_pickle=False: an eval.npz from elsewhere cannot run code.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from pipeline.errors import StudyError
from pipeline.files import atomic_path

# key -> (dtype kind, number of dimensions), RESULTS.md; load_eval refuses a file that differs.
EVAL_LAYOUT: dict[str, tuple[str, int]] = {
    "test_ids": ("i", 1),
    "test_logits": ("f", 2),
    "test_labels": ("i", 1),
    "test_coarse": ("i", 1),
    "val_logits": ("f", 2),
    "val_labels": ("i", 1),
    "cam_pred": ("f", 3),
    "cam_true": ("f", 3),
    "shown_ids": ("i", 1),
    "shown_images": ("u", 4),
    "class_names": ("U", 1),
    "coarse_names": ("U", 1),
    "provenance": ("U", 0),
}


class EvalFileError(StudyError, ValueError):
    """An eval.npz that cannot be used; the one-line message names the file and the fix."""


def provenance_of(arrays: dict[str, np.ndarray]) -> dict:
    """The provenance record stored in eval.npz (JSON in a 0-d string array), as a dict."""
    return json.loads(str(np.asarray(arrays["provenance"])[()]))


def save_eval(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write eval.npz atomically (pipeline/files.py)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: numpy appends no ".npz"
        np.savez_compressed(f, **arrays)
    return path


def _refuse(path: Path, why: str) -> EvalFileError:
    return EvalFileError(f"{path}: {why}; delete it and run the evaluate stage again (python build.py)")


def load_eval(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read eval.npz (no pickle) and check it holds every key of RESULTS.md with the right dtype kind."""
    path = Path(path)
    if not path.is_file():
        raise _refuse(path, "no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}  # read everything now, so corruption shows here
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        raise _refuse(path, f"truncated or corrupt ({type(exc).__name__})") from None
    _check_layout(path, arrays)
    return arrays


def _check_layout(path: Path, arrays: dict[str, np.ndarray]) -> None:
    missing = [k for k in EVAL_LAYOUT if k not in arrays]
    if missing:
        raise _refuse(path, f"incomplete, missing {', '.join(missing)}")
    for key, (kind, ndim) in EVAL_LAYOUT.items():
        if arrays[key].dtype.kind != kind or arrays[key].ndim != ndim:
            raise _refuse(path, f"{key} has dtype {arrays[key].dtype} and {arrays[key].ndim} dims")
    n = len(arrays["test_ids"])
    if any(
        len(arrays[k]) != n for k in ("test_logits", "test_labels", "test_coarse", "cam_pred", "cam_true")
    ):
        raise _refuse(path, "the test arrays have different lengths")
