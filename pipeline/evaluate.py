"""Evaluation of one trained run: logits, Grad-CAM maps and the shown images -> eval.npz.

The layout of eval.npz is the contract in RESULTS.md. The test split lives on the device as one
uint8 tensor and each batch is normalised there (as in KellerJordan/cifar10-airbench); inference
runs under `torch.inference_mode` in channels_last, in the run's precision (pipeline/precision.py),
and every logit is stored as fp32. Grad-CAM is taken in its closed form for this architecture
(pipeline/gradcam.py: every class's map from layer4's activations, no backward; tests/test_gradcam.py
holds it to captum's LayerGradCam), always in fp32: the report compares map magnitudes across
images and models, and bf16 keeps 8 bits of mantissa (about 2 significant digits) in the layer4
activations whose weighted sum the map is. With bf16 logits the maps are taken for the class those
logits predict, so a stored prediction and its map always agree. Files are written atomically and
read without pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pipeline.cases import confidently_wrong, gallery_positions
from pipeline.checkpoint import CheckpointError, load_weights_file, read_checkpoint, write_history
from pipeline.config import RunConfig
from pipeline.data import load_splits, normalize_batch
from pipeline.device import resolve_device
from pipeline.evalfile import save_eval
from pipeline.gradcam import analytic_gradcam, analytic_head, features_and_logits
from pipeline.model import build_model, to_device
from pipeline.precision import autocast, ieee_fp32
from pipeline.provenance import provenance as run_provenance
from pipeline.scores import score
from pipeline.stages import file_digest

N_CONFIDENT_WRONG = 64  # most confidently wrong test images whose pixels eval.npz keeps for the report

# ----------------------------------------------------------------------------- model outputs


def _batches(n: int, batch_size: int) -> range:
    return range(0, n, batch_size)


def predict_logits(
    model: nn.Module,
    images_uint8: torch.Tensor,
    device: torch.device,
    batch_size: int = 256,
    precision: str = "fp32",
) -> torch.Tensor:
    """uint8 (N, 3, 32, 32) -> float32 (N, C) logits on the CPU; eval mode, batched, channels_last."""
    model.eval()
    images = images_uint8.to(device)  # the whole split on the device, once
    out = []
    with torch.inference_mode(), autocast(device, precision):
        for start in _batches(len(images), batch_size):
            x = normalize_batch(images[start : start + batch_size])  # float32, channels_last
            out.append(model(x).float().cpu())
    return torch.cat(out) if out else torch.empty(0, 0)


def logits_and_cams(
    model: nn.Module,
    images_uint8: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
    batch_size: int = 256,
    precision: str = "fp32",
) -> dict[str, np.ndarray]:
    """Test logits (N, C) and Grad-CAM for the predicted and for the true class, (N, h, w) each.

    Grad-CAM in its closed form (pipeline/gradcam.py, analytic_gradcam): both maps of an image come
    from the layer4 activations of one fp32 forward pass, with no backward. In fp32 that pass also
    gives the logits; in bf16 the logits come from a bf16 pass and the maps are taken for the class
    those logits predict, so that a stored prediction and its map always agree.
    """
    head = analytic_head(model)
    low = predict_logits(model, images_uint8, device, batch_size, precision) if precision != "fp32" else None
    images, labels = images_uint8.to(device), labels.to(device)
    logits, cam_pred, cam_true = [], [], []
    for s in _batches(len(images), batch_size):
        features, fp32 = features_and_logits(model, normalize_batch(images[s : s + batch_size]))
        batch = fp32.cpu() if low is None else low[s : s + batch_size]
        cam_pred.append(analytic_gradcam(features, head, batch.argmax(1).to(device)).cpu())
        cam_true.append(analytic_gradcam(features, head, labels[s : s + batch_size]).cpu())
        logits.append(batch)
    if not logits:
        return {"test_logits": np.empty((0, 0), np.float32), "cam_pred": np.empty((0, 4, 4), np.float32),
                "cam_true": np.empty((0, 4, 4), np.float32)}  # fmt: skip
    return {
        "test_logits": torch.cat(logits).numpy(),
        "cam_pred": torch.cat(cam_pred).numpy(),
        "cam_true": torch.cat(cam_true).numpy(),
    }


# ----------------------------------------------------------------------------- images to keep


def shown_positions(
    test_ids: np.ndarray, logits: np.ndarray, labels: np.ndarray, case_ids: tuple[int, ...] | list[int]
) -> np.ndarray:
    """Positions (in test order) of the images the report shows: evaluated cases and the confidently wrong."""
    cases = np.flatnonzero(np.isin(test_ids, np.asarray(list(case_ids), dtype=np.int64)))
    scored = score(logits, labels)  # the same ranking as the analysis, so the gallery's images are here
    wrong = confidently_wrong(scored, N_CONFIDENT_WRONG)
    # The gallery takes one per predicted class, which can reach below the top 64 overall.
    gallery = gallery_positions(scored, N_CONFIDENT_WRONG)
    return np.unique(np.concatenate([cases, wrong, gallery]).astype(np.int64))


# ----------------------------------------------------------------------------- one run


def evaluate_run(
    model: nn.Module,
    splits: Any,
    device: torch.device,
    shown_case_ids: tuple[int, ...] | list[int],
    provenance: dict,
    batch_size: int = 256,
    precision: str = "fp32",
) -> dict[str, np.ndarray]:
    """Everything eval.npz holds for one trained model (RESULTS.md), as numpy arrays.

    `model` is already on `device` (pipeline.model.to_device); `splits` is a pipeline.data.Splits
    or anything with its fields (test, val, test_ids, test_coarse, class_names, coarse_names).
    """
    test = logits_and_cams(model, splits.test.images, splits.test.labels, device, batch_size, precision)
    val_logits = predict_logits(model, splits.val.images, device, batch_size, precision)
    logits_np, labels_np = test["test_logits"], splits.test.labels.cpu().numpy().astype(np.int64)
    test_ids = np.asarray(splits.test_ids, dtype=np.int64)
    shown = shown_positions(test_ids, logits_np, labels_np, shown_case_ids)
    return {
        "test_ids": test_ids,
        "test_logits": logits_np.astype(np.float32),
        "test_labels": labels_np,
        "test_coarse": np.asarray(splits.test_coarse, dtype=np.int64),
        "val_logits": val_logits.numpy().astype(np.float32),
        "val_labels": splits.val.labels.cpu().numpy().astype(np.int64),
        "cam_pred": test["cam_pred"],
        "cam_true": test["cam_true"],
        "shown_ids": test_ids[shown],
        "shown_images": splits.test.images[shown].permute(0, 2, 3, 1).cpu().numpy().astype(np.uint8),
        "class_names": np.asarray(list(splits.class_names), dtype=str),
        "coarse_names": np.asarray(list(splits.coarse_names), dtype=str),
        "provenance": np.asarray(json.dumps(provenance, sort_keys=True, default=str)),
    }


def evaluate_weights(
    cfg: RunConfig,
    weights: Path,
    data_folder: Path,
    run_dir: Path,
    device_name: str | None = None,
    batch_size: int = 256,
    precision: str = "fp32",
) -> Path:
    """The evaluate stage of build.py: load the weights and the data, evaluate, write run_dir/eval.npz.

    Weights from elsewhere (--checkpoint-*) get a history.json beside eval.npz: the epochs stored
    in the checkpoint when it is one of ours, else an empty list (the report then has no curves).
    """
    device = resolve_device(device_name)
    ieee_fp32()  # Grad-CAM's maps and fp32 logits in IEEE fp32, not TF32
    splits = load_splits(cfg.data, data_folder)
    model = to_device(load_weights_file(weights, build_model(), expect=cfg), device).eval()
    given = Path(weights).resolve() != (Path(run_dir) / "checkpoint.pt").resolve()
    prov = run_provenance(cfg, splits.split_hash, device, splits.source, precision) | {
        "weights": str(weights),
        "weights_sha256": file_digest(Path(weights)),
        "weights_given": given,  # trained elsewhere: the config above is the profile's, not the weights'
    }
    arrays = evaluate_run(model, splits, device, cfg.data.keep_test_ids, prov, batch_size, precision)
    if not (np.isfinite(arrays["test_logits"]).all() and np.isfinite(arrays["val_logits"]).all()):
        raise CheckpointError(f"{weights}: the weights give NaN or infinite logits: they cannot be evaluated")
    path = save_eval(Path(run_dir) / "eval.npz", arrays)
    if given:
        write_history(Path(run_dir) / "history.json", prov, _stored_epochs(Path(weights)))
    return path


def _stored_epochs(weights: Path) -> list[dict]:
    try:
        return list(read_checkpoint(weights)["history"])
    except CheckpointError:  # a bare state_dict trained elsewhere carries no history
        return []
