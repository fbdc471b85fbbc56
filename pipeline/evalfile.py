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
    if is_frozen(path):  # committed results: the fix is git's copy, not a new evaluation
        return EvalFileError(f"{path}: {why}; restore the committed file with git checkout -- {path}")
    return EvalFileError(f"{path}: {why}; delete it and run the evaluate stage again (python build.py)")


def is_frozen(path: Path) -> bool:
    """Whether a file lies in a report/frozen/ folder (committed results)."""
    parts = Path(path).resolve().parts
    return any(a == "report" and b == "frozen" for a, b in zip(parts, parts[1:], strict=False))


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
    _check_shapes(path, arrays)


def _check_shapes(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The arrays agree with each other: class counts, label ranges, map sizes, finite numbers, provenance."""
    n_classes = len(arrays["class_names"])
    if (
        n_classes < 2
        or arrays["test_logits"].shape[1] != n_classes
        or arrays["val_logits"].shape[1] != n_classes
    ):
        raise _refuse(path, f"the logits do not have one column per class ({n_classes} class names)")
    if len(arrays["val_logits"]) != len(arrays["val_labels"]):
        raise _refuse(path, "val_logits and val_labels have different lengths")
    for key in ("test_labels", "val_labels"):
        if len(arrays[key]) and (arrays[key].min() < 0 or arrays[key].max() >= n_classes):
            raise _refuse(path, f"{key} holds a class outside 0-{n_classes - 1}")
    if len(arrays["test_coarse"]) and (
        arrays["test_coarse"].min() < 0 or arrays["test_coarse"].max() >= len(arrays["coarse_names"])
    ):
        raise _refuse(path, "test_coarse holds a superclass with no name")
    if arrays["cam_pred"].shape != arrays["cam_true"].shape:
        raise _refuse(path, "cam_pred and cam_true have different shapes")
    if arrays["shown_images"].shape[1:] != (32, 32, 3) or len(arrays["shown_images"]) != len(
        arrays["shown_ids"]
    ):
        raise _refuse(path, "shown_images are not one 32x32 RGB image per shown ID")
    for key in ("test_logits", "val_logits", "cam_pred", "cam_true"):
        if not np.isfinite(arrays[key]).all():
            raise _refuse(path, f"{key} holds NaN or infinite values (were the weights finite?)")
    try:
        prov = provenance_of(arrays)
    except ValueError:
        prov = None
    if not isinstance(prov, dict):
        raise _refuse(path, "its provenance is not a JSON object")
