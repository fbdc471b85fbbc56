"""The eval.npz file: its layout (pipeline/RESULTS.md), an atomic writer and a checked reader.

numpy only, so that the analysis and the report read evaluations without importing torch. Files
are read with allow_pickle=False: an eval.npz from elsewhere cannot run code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from pipeline.errors import StudyError
from pipeline.files import atomic_path
from pipeline.jsonfile import parse_json
from pipeline.npzfile import Member, NpzInputError, read_npz

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
TEST_IMAGES = 10_000  # the official CIFAR-100 test set: a test ID is an index into it
TRAIN_IMAGES = 50_000  # the val images are held out of the official training images
CLASSES, SUPERCLASSES = 100, 20
CAM_SIDE = 32  # a Grad-CAM map is at most the 32x32 image; layer4 gives 4x4
# key -> the largest shape it may have (its length is EVAL_LAYOUT's number of dimensions)
LARGEST_SHAPE: dict[str, tuple[int, ...]] = {
    "test_ids": (TEST_IMAGES,),
    "test_logits": (TEST_IMAGES, CLASSES),
    "test_labels": (TEST_IMAGES,),
    "test_coarse": (TEST_IMAGES,),
    "val_logits": (TRAIN_IMAGES, CLASSES),
    "val_labels": (TRAIN_IMAGES,),
    "cam_pred": (TEST_IMAGES, CAM_SIDE, CAM_SIDE),
    "cam_true": (TEST_IMAGES, CAM_SIDE, CAM_SIDE),
    "shown_ids": (TEST_IMAGES,),
    "shown_images": (TEST_IMAGES, 32, 32, 3),
    "class_names": (CLASSES,),
    "coarse_names": (SUPERCLASSES,),
    "provenance": (),
}
# bytes per element where not 8: pixels are bytes; a string of n characters takes 4n
ITEM_BYTES = {"shown_images": 1, "class_names": 4 * 64, "coarse_names": 4 * 64, "provenance": 4 * 65_536}
EVAL_MEMBERS = {
    key: Member(kind, LARGEST_SHAPE[key], ITEM_BYTES.get(key, 8)) for key, (kind, _) in EVAL_LAYOUT.items()
}
# The full test set in fp32 is 10.5 MB uncompressed; ten times that is still an evaluation, and
# nothing larger is decompressed.
MAX_EVAL_BYTES = 128 * 2**20
MIN_TEST_ROWS = 2  # the analysis compares images: a bootstrap and a ranking need more than one


class EvalFileError(StudyError, ValueError):
    """An eval.npz that cannot be used; the one-line message names the file and the fix."""


def provenance_of(arrays: dict[str, np.ndarray]) -> dict:
    """The provenance record stored in eval.npz (JSON in a 0-d string array), as a dict."""
    return parse_json(str(np.asarray(arrays["provenance"])[()]))


def save_eval(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write eval.npz atomically (pipeline/files.py)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: numpy appends no ".npz"
        np.savez_compressed(f, **arrays)
    return path


def refuse(path: Path, why: str) -> EvalFileError:
    """One line for a damaged evaluation file: what is wrong, and the fix for a frozen or a fresh one."""
    if is_frozen(path):  # committed results: the fix is git's copy, not a new evaluation
        return EvalFileError(f"{path}: {why}; restore the committed file with git checkout -- {path}")
    return EvalFileError(f"{path}: {why}; delete it and run the evaluate stage again (python build.py)")


def is_frozen(path: Path) -> bool:
    """Whether a file lies in a report/frozen/ folder (committed results)."""
    parts = Path(path).resolve().parts
    return any(a == "report" and b == "frozen" for a, b in zip(parts, parts[1:], strict=False))


def load_eval(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read eval.npz (no pickle, every size bounded: pipeline/npzfile.py) and check it holds every key
    of RESULTS.md with the right dtype kind, in arrays that agree with each other."""
    path = Path(path)
    arrays = read_arrays(path, EVAL_MEMBERS, MAX_EVAL_BYTES)
    _check_layout(path, arrays)
    return arrays


def read_arrays(path: Path, members: dict[str, Member], max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays of an evaluation file, read within its bounds (pipeline/npzfile.py), or one line."""
    if not path.is_file():
        raise refuse(path, "no such file")
    try:
        return read_npz(path, members, max_bytes)
    except NpzInputError as exc:
        raise refuse(path, str(exc)) from None


def _check_layout(path: Path, arrays: dict[str, np.ndarray]) -> None:
    n = len(arrays["test_ids"])
    if any(
        len(arrays[k]) != n for k in ("test_logits", "test_labels", "test_coarse", "cam_pred", "cam_true")
    ):
        raise refuse(path, "the test arrays have different lengths")
    if n < MIN_TEST_ROWS:
        raise refuse(path, f"it has {n} test rows: at least {MIN_TEST_ROWS} test rows needed")
    _check_shapes(path, arrays)
    _check_ids(path, arrays["test_ids"], arrays["shown_ids"])


def _check_shapes(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The arrays agree with each other: class counts, label ranges, map sizes, finite numbers, provenance."""
    n_classes = len(arrays["class_names"])
    if (
        n_classes < 2
        or arrays["test_logits"].shape[1] != n_classes
        or arrays["val_logits"].shape[1] != n_classes
    ):
        raise refuse(path, f"the logits do not have one column per class ({n_classes} class names)")
    if len(arrays["val_logits"]) != len(arrays["val_labels"]):
        raise refuse(path, "val_logits and val_labels have different lengths")
    if not len(arrays["val_labels"]):
        raise refuse(path, "no val rows (the temperature is fitted on them)")
    for key in ("test_labels", "val_labels"):
        if len(arrays[key]) and (arrays[key].min() < 0 or arrays[key].max() >= n_classes):
            raise refuse(path, f"{key} holds a class outside 0-{n_classes - 1}")
    if len(arrays["test_coarse"]) and (
        arrays["test_coarse"].min() < 0 or arrays["test_coarse"].max() >= len(arrays["coarse_names"])
    ):
        raise refuse(path, "test_coarse holds a superclass with no name")
    if arrays["cam_pred"].shape != arrays["cam_true"].shape:
        raise refuse(path, "cam_pred and cam_true have different shapes")
    height, width = arrays["cam_pred"].shape[1:]
    if height * width < 2:  # the attention entropy is normalised by log(cells)
        raise refuse(path, f"Grad-CAM maps are {height}x{width}: they need at least 2 cells")
    if arrays["shown_images"].shape[1:] != (32, 32, 3) or len(arrays["shown_images"]) != len(
        arrays["shown_ids"]
    ):
        raise refuse(path, "shown_images are not one 32x32 RGB image per shown ID")
    for key in ("test_logits", "val_logits", "cam_pred", "cam_true"):
        if not np.isfinite(arrays[key]).all():
            raise refuse(path, f"{key} holds NaN or infinite values (were the weights finite?)")
    try:
        prov = provenance_of(arrays)
    except ValueError:
        prov = None
    if not isinstance(prov, dict):
        raise refuse(path, "its provenance is not a JSON object")


def _check_ids(path: Path, test_ids: np.ndarray, shown_ids: np.ndarray) -> None:
    """Test IDs are increasing indices into the official test set; every shown ID is one of them, once."""
    outside = test_ids[(test_ids < 0) | (test_ids >= TEST_IMAGES)]
    if outside.size:
        raise refuse(path, f"test_ids holds {outside[0]}, not a CIFAR-100 test ID (0-{TEST_IMAGES - 1})")
    steps = np.diff(test_ids)
    if (steps <= 0).any():
        i = int(np.flatnonzero(steps <= 0)[0])
        if steps[i] == 0:
            raise refuse(path, f"test_ids repeats {test_ids[i]}")
        raise refuse(path, f"test_ids are not increasing ({test_ids[i]} before {test_ids[i + 1]})")
    values, counts = np.unique(shown_ids, return_counts=True)
    if (counts > 1).any():
        raise refuse(path, f"shown_ids repeats {values[counts > 1][0]}")
    absent = shown_ids[~np.isin(shown_ids, test_ids)]
    if absent.size:
        raise refuse(path, f"shown_ids {absent[0]} is not among test_ids")


# ----------------------------------------------------------------------------- two models' evaluations

SHARED_KEYS = ("test_ids", "test_labels", "test_coarse", "class_names")  # the same images and classes


def pair_difference(evals: Mapping[str, dict[str, np.ndarray]]) -> str | None:
    """How two models' loaded evaluations differ where they must agree to be compared (the same test
    images, labels and classes, the same data); None where they agree."""
    (model_a, a), (model_b, b) = evals.items()
    for key in SHARED_KEYS:
        if len(a[key]) != len(b[key]):
            return f"{key} has {len(a[key])} entries in {model_a}, {len(b[key])} in {model_b}"
        differ = np.flatnonzero(a[key] != b[key])
        if differ.size:
            i = int(differ[0])
            return (
                f"{key} differ first at position {i} ({a[key][i].item()!r} in {model_a}, "
                f"{b[key][i].item()!r} in {model_b})"
            )
    source_a, source_b = (provenance_of(e).get("data_source", "unknown") for e in (a, b))
    if source_a != source_b:
        return f"{model_a} was evaluated on {source_a!r} data, {model_b} on {source_b!r}"
    return None


def check_comparable(evals: Mapping[str, dict[str, np.ndarray]], paths: Mapping[str, Path]) -> None:
    """Refuse, naming both files and the first difference, two evaluations that cannot be compared."""
    why = pair_difference(evals)
    if why is None:
        return
    files = [Path(paths[m]) for m in evals]
    fresh = [str(p) for p in files if not is_frozen(p)]
    frozen = [str(p) for p in files if is_frozen(p)]
    fixes = []
    if fresh:
        fixes.append(f"delete {' and '.join(fresh)} and evaluate again with one profile (python build.py)")
    if frozen:
        fixes.append(f"restore the committed files with git checkout -- {' '.join(frozen)}")
    raise EvalFileError(f"{' and '.join(map(str, files))} cannot be compared: {why}; {', or '.join(fixes)}")
