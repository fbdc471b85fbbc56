"""The grid's runs arranged for the templates: each headline number's spread over seeds (§3, §6,
Table 2), the seed table and its wording (§9 "Is the gain more than seed noise?"), and the
augmentation ablation (§9 "Did the study's baseline train with augmentation?").

The numbers are results.json's `runs` and tables (pipeline/seeds.py); every sentence that depends
on them is chosen here by a named rule with its threshold below, as in report/context.py.
"""

from __future__ import annotations

from pipeline.config import MODELS, run_config
from pipeline.grid import CONFIDENT, QUANTITIES, STUDY_SEED, VARIANTS, study_rows
from report.filters import fraction_pct

# Seeds per model before the report calls a gain more than seed noise: the field's usual 3 to 5
# (DeVries & Taylor 2017 report the mean of 5 runs of ResNet-18 on CIFAR-100).
MIN_SEEDS = 3
# The mean gain at least this many of its own standard deviations across seeds away from zero:
# "more than seed noise" (about two sigma; with 3 seeds, a paired t of 2 × √3 ≈ 3.5).
NOISE_MULTIPLE = 2.0

LABELS = {  # how the tables name each quantity of a run
    "test_accuracy": "Test accuracy",
    "final_train_accuracy": "Final train accuracy",
    "final_val_accuracy": "Final val accuracy",
    "train_val_gap": "Train–val gap",
    **{f"wrong_ge_{round(100 * t)}": f"Wrong with ≥ {fraction_pct(t)} confidence" for t in CONFIDENT},
    "ece": "Expected calibration error",
}
ABLATION_ROWS = (  # the ablation table's rows: (key of the run, label, unit)
    ("final_train_accuracy", LABELS["final_train_accuracy"], "percent"),
    ("final_val_accuracy", LABELS["final_val_accuracy"], "percent"),
    ("train_val_gap", LABELS["train_val_gap"], "gap"),
    ("best_val_epoch", "Epoch of the lowest val loss", "epoch"),
    ("test_accuracy", LABELS["test_accuracy"], "percent"),
    ("wrong_ge_90", LABELS["wrong_ge_90"], "count"),
    ("wrong_ge_99", LABELS["wrong_ge_99"], "count"),
    ("ece", LABELS["ece"], "percent"),
)
UNITS = {
    **dict(QUANTITIES),
    "train_val_gap": "gap",
}  # how each quantity is written (report/filters.py in_unit)
STATED = ("baseline.final_train_accuracy", "baseline.test_accuracy")  # the study's split, from claims.yaml


def _empty_gains() -> dict:
    return {
        "per_seed": [],
        "gain": {"mean": None, "sd": None, "min": None, "max": None, "n": 0},
        "same_sign": None,
    }


def seed_rows(runs: list[dict], seeds: list[int]) -> list[dict]:
    """The seed table: per quantity and model, the value at each seed (None where not run)."""
    by = {(r["model"], r["seed"]): r for r in runs}
    return [
        {
            "quantity": q,
            "label": LABELS[q],
            "unit": UNITS[q],
            "model": m,
            "by_seed": [(by.get((m, s)) or {}).get(q) for s in seeds],
        }
        for q, _ in QUANTITIES
        for m in MODELS
    ]


def _every_seed(gains: list[dict], runs: list[dict], better) -> bool:
    """Whether `better(cutmix row, baseline row)` holds at every seed with both models."""
    by = {(r["model"], r["seed"]): r for r in runs}
    pairs = [(by[("cutmix", g["seed"])], by[("baseline", g["seed"])]) for g in gains]
    return bool(pairs) and all(better(c, b) for c, b in pairs)


def seeds_context(results: dict) -> dict:
    """The seed spread of the study's runs and the words chosen from it."""
    tables = results["tables"]
    runs = study_rows(results.get("runs") or [])
    gains = tables.get("seed_gains") or _empty_gains()
    spread = tables.get("seed_spread") or {}
    seeds = sorted({r["seed"] for r in runs})
    paired = gains["per_seed"]
    gain = gains["gain"]
    n = len(paired)
    far = gain["sd"] is not None and gain["sd"] > 0 and abs(gain["mean"]) >= NOISE_MULTIPLE * gain["sd"]
    exact = gain["sd"] == 0.0 and n > 1  # identical gains at every seed: no spread at all
    return {
        "measured": n >= 2,
        "n": n,
        "seeds": seeds,
        "study_seed": STUDY_SEED,
        "confident": CONFIDENT[0],
        "spread": spread,
        "units": UNITS,
        "rows": seed_rows(runs, seeds),
        "gains": paired,
        "gain": gain,
        "same_sign": gains["same_sign"],
        "ahead": bool(paired) and gains["same_sign"] is True and paired[0]["gain"] > 0,
        "enough_seeds": n >= MIN_SEEDS,
        "min_seeds": MIN_SEEDS,
        "beyond_noise": n >= MIN_SEEDS and gains["same_sign"] is True and (far or exact),
        "gain_over_sd": abs(gain["mean"]) / gain["sd"] if far else None,
        "fewer_confident_wrong_every_seed": _every_seed(
            paired, runs, lambda c, b: c["wrong_ge_90"] < b["wrong_ge_90"]
        ),
        "cutmix_steadier": _sd(spread, "cutmix") is not None
        and _sd(spread, "baseline") is not None
        and _sd(spread, "cutmix") < _sd(spread, "baseline"),
    }


def _sd(spread: dict, model: str) -> float | None:
    return ((spread.get(model) or {}).get("test_accuracy") or {}).get("sd")


def spread_of(seeds: dict, model: str, quantity: str) -> dict | None:
    """One quantity's spread for the parenthetical "(3 seeds: 28.0–29.4%)", or None with fewer than 2 runs."""
    s = (seeds["spread"].get(model) or {}).get(quantity)
    return s if s and s["n"] >= 2 else None


# ----------------------------------------------------------------------------- the ablation


def _stated(checks: list[dict]) -> dict[str, float | None]:
    found = {r.get("claim"): r.get("stated") for r in checks}
    return {name.split(".", 1)[1]: found.get(name) for name in STATED}


def _memorised(row: dict, gap: float) -> bool | None:
    return None if row["train_val_gap"] is None else row["train_val_gap"] >= gap


def verdict(recipe: dict, variant: dict, memorised_gap: float) -> str:
    """What the ablation shows about memorisation: which of the two runs memorised (a train − val
    gap of at least `memorised_gap` points, §3's rule)."""
    r, v = _memorised(recipe, memorised_gap), _memorised(variant, memorised_gap)
    if r is None or v is None:
        return "unknown"
    return {
        (True, False): "augmentation_decides",
        (True, True): "both_memorise",
        (False, False): "neither_memorises",
        (False, True): "only_augmented_memorises",
    }[(r, v)]


def ablation_context(
    results: dict, checks: list[dict], data: dict, train: dict, memorised_gap: float
) -> dict | None:
    """The ablation's table rows and wording; None where the profile's grid has no ablation."""
    found = results["tables"].get("ablation")
    if not found:
        return None
    recipe, variant = found["recipe"], found["variant"]
    paper = run_config("paper", "baseline").train
    changes = VARIANTS[found["name"]][1]
    return {
        "name": found["name"],
        "confident": CONFIDENT[0],
        "seed": found["seed"],
        "changes_augmentation": set(changes) == {"augment"},
        "recipe": recipe,
        "variant": variant,
        "rows": [
            {
                "key": key,
                "label": label,
                "unit": unit,
                "recipe": recipe[key],
                "variant": variant[key],
                "change": None if recipe[key] is None or variant[key] is None else variant[key] - recipe[key],
            }
            for key, label, unit in ABLATION_ROWS
        ],
        "verdict": verdict(recipe, variant, memorised_gap),
        "generalises_better": (variant["final_val_accuracy"] or 0) > (recipe["final_val_accuracy"] or 0),
        "fewer_confident_wrong": variant["wrong_ge_90"] < recipe["wrong_ge_90"],
        "still_improving": variant["best_val_epoch"] is not None
        and variant["best_val_epoch"] == variant["epochs"],
        "recipe_overfits": recipe["best_val_epoch"] is not None
        and recipe["best_val_epoch"] < recipe["epochs"],
        "stated": _stated(checks),
        "epochs": train["epochs"],
        "train_images": data.get("train_subset"),
        "paper_epochs": paper.epochs,
        "smaller_than_paper": train["epochs"] < paper.epochs or data.get("train_subset") is not None,
    }
