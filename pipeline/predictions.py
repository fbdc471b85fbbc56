"""The compact evaluation of one of the grid's other runs: predictions.npz.

Per test image, what the seed aggregates and an independent recomputation need, and no logits:
its ID, its label, the predicted class, the confidence (the top softmax probability) and the
probability of the true class. A cpu-study run freezes in about 0.3 MB instead of eval.npz's
12 MB, which keeps the tracked tree small enough to travel with the GPU job. Probabilities are
float64, as the analysis computes them (pipeline/scores.py), so that every number from this file
equals the one from the full evaluation.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from pipeline.evalfile import CLASSES, TEST_IMAGES, provenance_of, read_arrays, refuse
from pipeline.files import write_bytes
from pipeline.jsonfile import parse_json
from pipeline.npzfile import Member
from pipeline.scores import score

MEMBERS = {
    "test_ids": Member("i", (TEST_IMAGES,)),
    "test_labels": Member("i", (TEST_IMAGES,)),
    "predicted": Member("i", (TEST_IMAGES,)),
    "confidence": Member("f", (TEST_IMAGES,)),
    "true_prob": Member("f", (TEST_IMAGES,)),
    "provenance": Member("U", (), 4 * 65_536),
}
MAX_BYTES = 4 * 2**20  # 10,000 rows of 5 numbers, and the provenance
PROBABILITY_SLACK = 1e-9  # float64 rounding of a softmax that sums to 1


def predictions_of(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The compact arrays of an evaluation (eval.npz's, pipeline/evalfile.py)."""
    labels = np.asarray(arrays["test_labels"], dtype=np.int64)
    s = score(arrays["test_logits"], labels)
    return {
        "test_ids": np.asarray(arrays["test_ids"], dtype=np.int64),
        "test_labels": labels,
        "predicted": s.pred,
        "confidence": s.confidence,
        "true_prob": s.probs[np.arange(len(labels)), labels],
        "provenance": np.asarray(json.dumps(provenance_of(arrays), sort_keys=True)),
    }


def save_predictions(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write predictions.npz atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: arrays[k] for k in MEMBERS})
    write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def load_predictions(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read predictions.npz, every size bounded and every array checked against the others."""
    path = Path(path)
    arrays = read_arrays(path, MEMBERS, MAX_BYTES)
    _check(path, arrays)
    return arrays


def _check(path: Path, arrays: dict[str, np.ndarray]) -> None:
    n = len(arrays["test_ids"])
    if n < 2 or any(len(arrays[k]) != n for k in ("test_labels", "predicted", "confidence", "true_prob")):
        raise refuse(path, "its arrays are not one row per test image (at least 2)")
    ids = arrays["test_ids"]
    if ids.min() < 0 or ids.max() >= TEST_IMAGES or (np.diff(ids) <= 0).any():
        raise refuse(path, f"test_ids are not increasing CIFAR-100 test IDs (0-{TEST_IMAGES - 1})")
    for key in ("test_labels", "predicted"):
        if arrays[key].min() < 0 or arrays[key].max() >= CLASSES:
            raise refuse(path, f"{key} holds a class outside 0-{CLASSES - 1}")
    confidence, true_prob = arrays["confidence"], arrays["true_prob"]
    if not (np.isfinite(confidence).all() and np.isfinite(true_prob).all()):
        raise refuse(path, "a probability is NaN or infinite")
    if confidence.min() < 1 / CLASSES - PROBABILITY_SLACK or confidence.max() > 1 + PROBABILITY_SLACK:
        raise refuse(path, f"a confidence lies outside [1/{CLASSES}, 1]")
    if true_prob.min() < 0 or (true_prob > confidence + PROBABILITY_SLACK).any():
        raise refuse(path, "a true-class probability is negative or above the confidence")
    right = arrays["predicted"] == arrays["test_labels"]
    if (np.abs(true_prob[right] - confidence[right]) > PROBABILITY_SLACK).any():
        raise refuse(path, "where the prediction is right, the true-class probability is not the confidence")
    try:
        prov = parse_json(str(arrays["provenance"][()]))
    except ValueError:
        prov = None
    if not isinstance(prov, dict):
        raise refuse(path, "its provenance is not a JSON object")


def check_same_images(predictions: dict, primary: dict, path: Path) -> None:
    """A run of the grid is compared with the primary pair: the same test images, labels and data."""
    for key in ("test_ids", "test_labels"):
        if not np.array_equal(predictions[key], primary[key]):
            raise refuse(path, f"its {key} are not those of the primary runs (another profile or data?)")
    source = parse_json(str(predictions["provenance"][()])).get("data_source")
    if source != provenance_of(primary).get("data_source"):
        raise refuse(path, f"it was evaluated on {source!r} data, the primary runs on other data")
