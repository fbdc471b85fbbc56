"""Whether the GPU job can finish in its time: the rest projected from the first epoch of each model.

After every model's first epoch, gpu/run.py projects the seconds the rest needs (the epochs left at
that epoch's steady rate, plus the evaluation) against the time left, and stops the trainers with
advice on what this machine can do when it would not fit. It never changes a setting of the run.
The trainers write what this reads into their run folders: history.json after every epoch, and
probe.json, the timing of the first epoch's steps past compilation.
"""

from __future__ import annotations

import json
from pathlib import Path

EVAL_SETUP = 20.0  # seconds an evaluation needs besides its images: load data and weights, write


def history_rows(run_dir: Path) -> list[dict]:
    try:
        return json.loads((run_dir / "history.json").read_text())["epochs"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def first_epoch_rate(run_dir: Path, cfg) -> float | None:
    """Images per second of the steady part of the first epoch (past compilation), else of the whole epoch."""
    try:
        probe = json.loads((run_dir / "probe.json").read_text())
        return probe["steps"] * cfg.train.batch_size / probe["seconds"]
    except (OSError, ValueError, KeyError, ZeroDivisionError):
        rows = history_rows(run_dir)
        return rows[0]["images_per_s"] if rows else None


def projection(runs: Path, models: list[str], configs: dict, sizes: dict) -> dict | None:
    """Seconds the rest of the job needs, from the first epoch of each model (in runs/<model>/); None
    until every model has one."""
    per_model = {}
    for model in models:
        cfg, rows = configs[model], history_rows(runs / model)
        rate = first_epoch_rate(runs / model, cfg)
        if not rows or not rate:
            return None
        n_train = sizes["train"]
        val_seconds = max(0.0, rows[0]["seconds"] - n_train / rows[0]["images_per_s"])
        left = cfg.train.epochs - len(rows)
        evaluation = EVAL_SETUP + (2.5 * sizes["test"] + sizes["val"]) / rate  # Grad-CAM ~ a training step
        per_model[model] = {"rate": rate, "seconds": left * (n_train / rate + val_seconds) + evaluation}
    return {"seconds": max(p["seconds"] for p in per_model.values()), "models": per_model}


def advice(plan: dict, configs: dict, sizes: dict, limit: float) -> str:
    """What this machine can do, from the rates measured with all models training at once."""
    together = sum(p["rate"] for p in plan["models"].values())
    epochs = max(cfg.train.epochs for cfg in configs.values())
    alone = epochs * sizes["train"] / together  # one model with the whole device, about
    fits = "fits" if alone + EVAL_SETUP < limit else "does not fit either"
    return (
        f"together the trainers ran {together:,.0f} img/s; one model alone would need about {alone:,.0f} s "
        f"of training, which {fits} in a {limit:.0f}-s job: "
        + (
            "run `python3 run.py --models baseline`, then `--models cutmix`, in two jobs"
            if fits == "fits"
            else "use a faster device or a longer time limit; the run's settings stay as they are"
        )
    )
