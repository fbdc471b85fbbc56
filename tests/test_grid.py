"""Runs as a grid: the cells a profile declares, their compact predictions, the seeds' spread, the
progress over the trainings, and the smoke grid end to end from synthetic data: trained, analysed,
frozen compactly, and built again from the frozen files alone."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from conftest import isolate_build

import build
from commands import workspace
from commands.progress import GridProgress, duration
from pipeline.config import AnalysisConfig
from pipeline.errors import StudyError
from pipeline.grid import Cell, cell_config, cells, other_cells
from pipeline.predictions import load_predictions, predictions_of, save_predictions
from pipeline.seeds import ablation, best_val_epoch, run_row, seed_gains, seed_spread, spread

TINY_SMOKE = {
    "data": {"val_size": 100, "train_subset": 128, "val_subset": 64, "test_subset": 200},
    "train": {"epochs": 1, "batch_size": 64, "milestones": (1,)},
}


# ----------------------------------------------------------------------------- the cells


def test_each_profile_declares_its_runs_primary_pair_first():
    assert [c.name for c in cells("paper")] == ["baseline", "cutmix"]
    assert [c.name for c in cells("smoke")] == ["baseline", "cutmix", "baseline-seed43", "cutmix-seed43"]
    names = [c.name for c in cells("cpu-study")]
    assert names[:2] == ["baseline", "cutmix"] and len(names) == 7
    assert names[-1] == "augmented-baseline-seed42"
    assert [c.name for c in other_cells("cpu-study")] == names[2:]


def test_a_cell_changes_only_its_seed_and_its_variant():
    primary, seeded = (
        cell_config("cpu-study", Cell("cutmix", 42)),
        cell_config("cpu-study", Cell("cutmix", 44)),
    )
    assert primary == build.run_config("cpu-study", "cutmix")  # the primary pair's config, untouched
    assert seeded.train.seed == 44 and seeded.train.cutmix_prob == 0.5 and seeded.data == primary.data
    augmented = cell_config("cpu-study", Cell("baseline", 42, "augmented-baseline"))
    assert augmented.train.augment and not primary.train.augment and augmented.train.seed == 42


# ----------------------------------------------------------------------------- the numbers


def _predictions(labels, predicted, confidence) -> dict:
    n = len(labels)
    return {
        "test_ids": np.arange(n),
        "test_labels": np.asarray(labels),
        "predicted": np.asarray(predicted),
        "confidence": np.asarray(confidence, dtype=np.float64),
    }


def test_a_run_row_is_counted_as_the_analysis_counts():
    p = _predictions([0, 1, 2, 3], [0, 1, 5, 6], [0.5, 0.95, 0.92, 0.995])
    epochs = [{"epoch": 1, "train_acc": 0.5, "val_acc": 0.25, "val_loss": 2.0}]
    row = run_row({"name": "x", "model": "baseline", "seed": 1, "variant": None}, p, epochs, AnalysisConfig())
    assert row["test_accuracy"] == 50.0 and row["wrong_ge_90"] == 2 and row["wrong_ge_99"] == 1
    assert row["final_train_accuracy"] == 50.0 and row["final_val_accuracy"] == 25.0
    assert row["train_val_gap"] == 25.0
    assert row["name"] == "x" and math.isfinite(row["ece"])


def test_the_spread_is_the_sample_one_and_one_value_has_no_sd():
    assert spread([1.0, 2.0, 3.0]) == {"mean": 2.0, "sd": 1.0, "min": 1.0, "max": 3.0, "n": 3}
    assert spread([4.0, None])["sd"] is None and spread([None])["n"] == 0


def _row(model, seed, acc, variant=None):
    return {"name": f"{model}{seed}", "model": model, "seed": seed, "variant": variant, "test_accuracy": acc}


def test_the_gain_is_paired_by_seed_and_its_sign_is_checked_in_every_seed():
    rows = [_row("baseline", 42, 30.0), _row("cutmix", 42, 32.0), _row("baseline", 43, 29.0)]
    rows += [_row("cutmix", 43, 30.5), _row("baseline", 42, 40.0, "augmented-baseline")]
    gains = seed_gains(rows)
    assert [g["gain"] for g in gains["per_seed"]] == [2.0, 1.5] and gains["same_sign"] is True
    assert seed_gains(rows + [_row("baseline", 44, 35.0), _row("cutmix", 44, 34.0)])["same_sign"] is False
    assert seed_gains([_row("baseline", 42, 30.0)]) == {"per_seed": [], "gain": spread([]), "same_sign": None}


def test_the_seed_spread_leaves_the_variants_out():
    full = [
        {
            **r,
            **{
                q: r["test_accuracy"]
                for q in ("final_train_accuracy", "final_val_accuracy", "train_val_gap", "ece")
            },
        }
        for r in [_row("baseline", 42, 30.0), _row("baseline", 43, 32.0), _row("baseline", 42, 50.0, "v")]
    ]
    for r in full:
        r |= {"wrong_ge_90": 1, "wrong_ge_99": 0}
    assert seed_spread(full)["baseline"]["test_accuracy"] == spread([30.0, 32.0])  # fmt: skip


def test_the_ablation_sets_the_recipe_against_the_variant_at_one_seed():
    row = {"final_train_accuracy": 99.0, "final_val_accuracy": 30.0, "train_val_gap": 69.0}
    rows = [
        {**_row("baseline", 42, 28.0), **row},
        {**_row("baseline", 42, 35.0, "aug"), **row, "name": "aug"},
    ]
    curve = [{"epoch": 1, "val_loss": 3.0}, {"epoch": 2, "val_loss": 2.5}, {"epoch": 3, "val_loss": 2.7}]
    found = ablation(rows, {"baseline42": curve, "aug": curve[:2]}, "aug", 42)
    assert found["name"] == "aug" and found["seed"] == 42
    assert found["recipe"]["best_val_epoch"] == 2 and found["recipe"]["train_val_gap"] == 69.0
    assert found["variant"]["test_accuracy"] == 35.0 and found["variant"]["epochs"] == 2
    assert ablation(rows[:1], {}, "aug", 42) is None and best_val_epoch([]) is None


# ----------------------------------------------------------------------------- predictions.npz


def _eval_arrays(rng) -> dict:
    logits = rng.normal(size=(20, 100)).astype(np.float32)
    return {
        "test_ids": np.arange(20) * 3,
        "test_labels": rng.integers(0, 100, 20),
        "test_logits": logits,
        "provenance": np.asarray(json.dumps({"data_source": "synthetic"})),
    }


def test_predictions_round_trip_and_agree_with_the_logits(tmp_path):
    arrays = _eval_arrays(np.random.default_rng(0))
    compact = predictions_of(arrays)
    back = load_predictions(save_predictions(tmp_path / "predictions.npz", compact))
    assert all(
        np.array_equal(back[k], compact[k]) for k in ("test_ids", "predicted", "confidence", "true_prob")
    )
    assert np.array_equal(back["predicted"], arrays["test_logits"].argmax(1))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda a: a.update(confidence=a["confidence"] * 5), "confidence lies outside"),
        (lambda a: a.update(predicted=a["predicted"] + 200), "predicted holds a class outside"),
        (lambda a: a.update(test_ids=a["test_ids"][::-1].copy()), "test_ids are not increasing"),
        (lambda a: a.update(true_prob=a["confidence"] + 0.5), "true-class probability"),
    ],
)
def test_a_damaged_predictions_file_is_one_line(tmp_path, change, why):
    compact = predictions_of(_eval_arrays(np.random.default_rng(1)))
    change(compact)
    path = save_predictions(tmp_path / "predictions.npz", compact)
    with pytest.raises(StudyError, match=why) as err:
        load_predictions(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


# ----------------------------------------------------------------------------- progress


def test_the_progress_line_names_the_run_and_estimates_the_whole_grid():
    lines = []
    a, b = Cell("baseline", 43).name, Cell("cutmix", 43).name
    progress = GridProgress([(a, 2), (b, 2)], lines.append)
    progress.epoch_of(a)({"epoch": 1, "val_acc": 0.1, "seconds": 60.0})
    assert lines[-1].startswith("train baseline-seed43") and "epoch 1/2" in lines[-1]
    assert "about 3 min of training left, and the evaluations (2 of 2 runs" in lines[-1]
    with progress.evaluating(a):
        pass
    progress.epoch_of(b)({"epoch": 1, "val_acc": 0.1, "seconds": 60.0})
    assert "grid: about 1 min left (1 of 2 runs to finish)" in lines[-1]
    assert [duration(s) for s in (5, 600, 7500)] == ["5 s", "10 min", "2 h 05 min"]


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def grid(tmp_path_factory, tiny_cifar):
    """The smoke grid (2 seeds x 2 models) trained from synthetic data, analysed and frozen."""
    root = tmp_path_factory.mktemp("grid")
    with pytest.MonkeyPatch.context() as mp:
        isolate_build(mp, root, TINY_SMOKE)
        args = ["--profile", "smoke", "--data-dir", str(tiny_cifar), "--no-pdf", "--out", str(root / "out")]
        assert build.main([*args, "--retrain", "--train-missing"]) == 0
        assert build.main(["freeze", "--profile", "smoke", "--out", str(root / "out")]) == 0
    return root


def test_the_grid_is_analysed_with_the_primary_rows_equal_to_the_claims(grid):
    results = json.loads((grid / "out" / "results.json").read_text())
    rows = {r["name"]: r for r in results["runs"]}
    assert list(rows) == ["baseline", "cutmix", "baseline-seed43", "cutmix-seed43"]
    for model in ("baseline", "cutmix"):
        for quantity in ("test_accuracy", "final_train_accuracy", "wrong_ge_90", "ece"):
            assert rows[model][quantity] == results["claims"][f"{model}.{quantity}"]["value"], quantity
    assert results["tables"]["seed_spread"]["baseline"]["test_accuracy"]["n"] == 2
    assert len(results["tables"]["seed_gains"]["per_seed"]) == 2
    assert set(results["inputs"]["runs"]) == {"baseline-seed43", "cutmix-seed43"}


def test_the_other_runs_are_frozen_compactly(grid):
    frozen = grid / "frozen" / "smoke"
    for name in ("baseline-seed43", "cutmix-seed43"):
        assert {p.name for p in (frozen / "runs" / name).iterdir()} == {"predictions.npz", "history.json"}
    assert (frozen / "runs" / "cutmix-seed43" / "predictions.npz").stat().st_size < 50_000
    results = json.loads((frozen / "results.json").read_text())
    assert set(results["run_sources"].values()) == {"frozen"}


def test_a_build_from_the_frozen_grid_alone_passes_the_gate_exactly(grid, tmp_path, monkeypatch, capsys):
    isolate_build(monkeypatch, grid, TINY_SMOKE)
    monkeypatch.setattr(
        workspace, "RUNS", tmp_path / "no-runs"
    )  # nothing trained here: only the frozen files
    out = ["--out", str(tmp_path / "out")]
    assert build.main(["--profile", "smoke", "--no-pdf", *out]) == 0
    capsys.readouterr()
    assert build.main(["check", "--profile", "smoke", "--against", "frozen", "--json", *out]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert {r["mode"] for r in rows if r["type"] != "identity"} == {"exact"}
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(results["runs"]) == 4 and set(results["run_sources"].values()) == {"frozen"}


def test_a_damaged_frozen_run_is_one_line_naming_it(grid, tmp_path, monkeypatch, capsys):
    isolate_build(monkeypatch, grid, TINY_SMOKE)
    monkeypatch.setattr(workspace, "RUNS", tmp_path / "no-runs")
    monkeypatch.setattr(workspace, "FROZEN", tmp_path / "report" / "frozen")  # committed results: git's fix
    shutil.copytree(grid / "frozen", tmp_path / "report" / "frozen")
    damaged = tmp_path / "report" / "frozen" / "smoke" / "runs" / "cutmix-seed43" / "predictions.npz"
    damaged.write_bytes(damaged.read_bytes()[:100])
    assert build.main(["--profile", "smoke", "--no-pdf", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cutmix-seed43/predictions.npz" in err and "git checkout" in err


def test_the_seeds_measure_the_tolerances_and_a_retrain_of_one_seed_passes_them(grid, monkeypatch):
    """The seed-43 pair stands for an honest retrain: checked against the frozen seed-42 numbers
    with the tolerances the two seeds measured, nothing fails."""
    from commands.analyse import analyse_files, analysis_config
    from commands.workspace import RunFiles
    from report.claims import load_claims
    from report.gate import check_against_frozen, load_tolerances

    isolate_build(monkeypatch, grid, TINY_SMOKE)
    frozen = grid / "frozen" / "smoke"
    tolerances = load_tolerances(frozen / "tolerances.json")
    assert tolerances["samples"] == 2 and "seeds [42, 43]" in tolerances["how"]
    counted = tolerances["claims"]["baseline.wrong"]
    assert counted["tolerance"] >= 3 * (sum(counted["values"]) / 2) ** 0.5 + 1  # the Poisson floor
    assert (
        tolerances["claims"]["baseline.test_images"]["values"][0]
        == tolerances["claims"]["baseline.test_images"]["values"][1]
    )
    runs = {
        m: RunFiles(
            grid / "runs" / "smoke" / f"{m}-seed43" / "eval.npz",
            grid / "runs" / "smoke" / f"{m}-seed43" / "history.json",
            "trained",
        )
        for m in ("baseline", "cutmix")
    }
    retrain = analyse_files(runs, analysis_config(), "smoke")
    rows = check_against_frozen(
        retrain, json.loads((frozen / "results.json").read_text()), load_claims(workspace.CLAIMS), tolerances
    )
    assert [r["claim"] for r in rows if r["verdict"] == "fail" and r["type"] == "frozen"] == []
