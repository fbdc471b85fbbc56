"""How much of each number is seed noise: the grid's runs side by side, and their spread.

Numpy only and pure, like pipeline/analysis.py. Each run is summarised from its compact
predictions (pipeline/predictions.py) and its history with the analysis' own definitions, so that
the primary run's row equals its claims. The spread is over the study's recipe only (the variants
answer another question): per model the mean, the sample standard deviation (n - 1), the range
and n; and per seed the accuracy gain, CutMix minus the baseline of the same seed, the paired
comparison (each seed shares its split, and only the model's draws differ with it).
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.config import MODELS, AnalysisConfig
from pipeline.grid import CONFIDENT, QUANTITIES, study_rows
from pipeline.metrics import calibration, selective


def _pct(x: float | None) -> float | None:
    return None if x is None else 100.0 * float(x)


def run_row(identity: dict, predictions: dict, epochs: list[dict], cfg: AnalysisConfig) -> dict:
    """One run: its identity ({"name", "model", "seed", "variant"}) and the QUANTITIES."""
    correct = predictions["predicted"] == predictions["test_labels"]
    confidence = predictions["confidence"]
    wrong_90, wrong_99 = selective.wrong_at_or_above(confidence, correct, CONFIDENT)
    last = epochs[-1] if epochs else {}
    train, val = _pct(last.get("train_acc")), _pct(last.get("val_acc"))
    return {
        **identity,
        "test_accuracy": _pct(correct.mean()),
        "final_train_accuracy": train,
        "final_val_accuracy": val,
        "train_val_gap": None if train is None or val is None else train - val,
        "wrong_ge_90": wrong_90,
        "wrong_ge_99": wrong_99,
        "ece": _pct(calibration.ece(confidence, correct, cfg.ece_bins)),
    }


def spread(values: list[float | None]) -> dict:
    """mean, sd (n - 1; None for one value), min, max and n of the values that exist."""
    x = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if not x.size:
        return {"mean": None, "sd": None, "min": None, "max": None, "n": 0}
    sd = float(x.std(ddof=1)) if x.size > 1 else None
    return {"mean": float(x.mean()), "sd": sd, "min": float(x.min()), "max": float(x.max()), "n": int(x.size)}


def seed_spread(rows: list[dict]) -> dict:
    """{model: {quantity: spread}} over the study's runs."""
    study = study_rows(rows)
    return {m: {q: spread([r[q] for r in study if r["model"] == m]) for q, _ in QUANTITIES} for m in MODELS}


def seed_gains(rows: list[dict]) -> dict:
    """Per seed with both models, CutMix's test accuracy minus the baseline's (points); whether every
    gain has the same sign (None with no seed, or where a gain is exactly 0)."""
    by_seed: dict[int, dict[str, float]] = {}
    for r in study_rows(rows):
        by_seed.setdefault(r["seed"], {})[r["model"]] = r["test_accuracy"]
    per_seed = [
        {"seed": seed, **acc, "gain": acc["cutmix"] - acc["baseline"]}
        for seed, acc in sorted(by_seed.items())
        if set(acc) == set(MODELS)
    ]
    signs = {math.copysign(1, p["gain"]) if p["gain"] else 0 for p in per_seed}
    same = None if not per_seed or 0 in signs else len(signs) == 1
    return {"per_seed": per_seed, "gain": spread([p["gain"] for p in per_seed]), "same_sign": same}


# ----------------------------------------------------------------------------- the ablation


def best_val_epoch(epochs: list[dict]) -> int | None:
    """The epoch of the lowest validation loss (the first, on a tie): where a longer run overfits."""
    losses = [row["val_loss"] for row in epochs]
    return epochs[int(np.argmin(losses))]["epoch"] if losses else None


def ablation_row(row: dict, epochs: list[dict]) -> dict:
    return {**row, "best_val_epoch": best_val_epoch(epochs), "epochs": len(epochs)}


def ablation(rows: list[dict], histories: dict[str, list[dict]], variant: str, seed: int) -> dict | None:
    """The baseline of the study's recipe against the variant at one seed, with both histories; None
    where either run is missing."""
    pick = {
        "recipe": [
            r for r in rows if r["model"] == "baseline" and r["variant"] is None and r["seed"] == seed
        ],
        "variant": [r for r in rows if r["variant"] == variant and r["seed"] == seed],
    }
    if not all(pick.values()):
        return None
    return {
        "name": variant,
        "seed": seed,
        **{arm: ablation_row(found[0], histories[found[0]["name"]]) for arm, found in pick.items()},
    }
