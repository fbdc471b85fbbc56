"""Whether the GPU job can finish in its time: the rest projected from steady epochs of this job.

Each trainer times one epoch of its own (pipeline/gpujob/probe.py): the second it trains, when
every graph is built (a compiled trainer builds one for the full batch, one for the epoch's short
last batch and one for validation, all in its first epoch), from its second step to its last
full-size step, with the device's queue drained at both ends. That epoch's validation time comes
from its history row. Both are this job's: a probe carries the job's token, so files an earlier
job left are never read. gpu/run.py projects once every trainer has its probe: the epochs left at
that rate, plus the evaluation, plus any model still to train after these (one after the other on
a GPU), against the time left; when it would not fit it stops the trainers with advice on what
this machine can do. It never changes a setting of the run.
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


def read_probe(run_dir: Path, token: str) -> dict | None:
    """This job's probe of the run (probe.json with `token`), else None."""
    try:
        probe = json.loads((run_dir / "probe.json").read_text())
        ok = probe["token"] == token and probe["images_per_s"] > 0 and isinstance(probe["epoch"], int)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return probe if ok else None


def evaluation_seconds(rate: float, sizes: dict) -> float:
    return EVAL_SETUP + (2.5 * sizes["test"] + sizes["val"]) / rate  # a Grad-CAM image ~ a training step


def projection(
    runs: Path, models: list[str], configs: dict, sizes: dict, token: str, later: list[str] = ()
) -> dict | None:
    """Seconds the rest of the job needs, from this job's probe of each model in runs/<model>/ and
    the history row of the probed epoch; `later` are models that train after these, alone, at the
    rate measured here. None until every model has its probe."""
    per_model = {}
    n_train = sizes["train"]
    for model in models:
        probe, rows = read_probe(runs / model, token), history_rows(runs / model)
        row = next((r for r in rows if probe and r.get("epoch") == probe["epoch"]), None)
        if row is None:
            return None
        rate = probe["images_per_s"]
        val_seconds = max(0.0, row["seconds"] - n_train / row["images_per_s"])
        epoch_seconds = n_train / rate + val_seconds
        left = configs[model].train.epochs - len(rows)
        per_model[model] = {
            "rate": rate,
            "epoch": probe["epoch"],
            "epoch_seconds": epoch_seconds,
            "seconds": left * epoch_seconds + evaluation_seconds(rate, sizes),
        }
    seconds = max(p["seconds"] for p in per_model.values())
    if later:
        rate = sum(p["rate"] for p in per_model.values())  # the whole device, as these share it now
        epoch_seconds = min(p["epoch_seconds"] for p in per_model.values())
        seconds += sum(
            EVAL_SETUP + configs[m].train.epochs * epoch_seconds + evaluation_seconds(rate, sizes)
            for m in later
        )
    return {"seconds": seconds, "models": per_model, "later": list(later)}


def advice(plan: dict, configs: dict, sizes: dict, limit: float) -> str:
    """What this machine can do, from the rates measured with these models training at once."""
    together = sum(p["rate"] for p in plan["models"].values())
    epochs = max(cfg.train.epochs for cfg in configs.values())
    alone = epochs * sizes["train"] / together  # one model with the whole device, about
    fits = "fits" if alone + EVAL_SETUP < limit else "does not fit either"
    return (
        f"the trainers ran {together:,.0f} img/s in all; one model alone would need about {alone:,.0f} s "
        f"of training, which {fits} in a {limit:.0f}-s job: "
        + (
            "run `python3 run.py --models baseline`, then `--models cutmix`, in two jobs"
            if fits == "fits"
            else "use a faster device or a longer time limit; the run's settings stay as they are"
        )
    )
