"""The whole analysis: every claim of RESULTS.md, plain JSON, identities, purity and refusals."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

from pipeline import analysis
from pipeline.analysis import AnalysisError, analyse
from pipeline.config import MODELS, STUDY_CASE_IDS, AnalysisConfig
from pipeline.identities import check_identities

CFG = AnalysisConfig()
CLASS_NAMES = [f"class_{i}" for i in range(100)]
PER_IMAGE_KEYS = ("test_ids", "test_logits", "test_labels", "test_coarse", "cam_pred", "cam_true")

# Every claim name of RESULTS.md with its unit (M is baseline or cutmix); per-class deltas and
# the case claims are added per class and per configured ID below.
PER_MODEL = {
    "test_accuracy": "percent",
    "error_rate": "percent",
    "test_images": "count",
    "wrong": "count",
    "final_train_accuracy": "percent",
    "final_val_accuracy": "percent",
    "train_val_gap": "points",
    "final_train_loss": "nats",
    "final_val_loss": "nats",
    "mean_confidence_wrong": "percent",
    "mean_confidence_correct": "percent",
    **{f"wrong_ge_{t}": "count" for t in (50, 60, 70, 80, 90, 95, 99)},
    "ece": "percent",
    "mce": "percent",
    "nll": "nats",
    "brier": "fraction",
    "temperature": "temperature",
    "ece_ts": "percent",
    "mce_ts": "percent",
    "nll_ts": "nats",
    "brier_ts": "fraction",
    "guardrail_coverage": "percent",
    "guardrail_accuracy": "percent",
    "guardrail_accepted_wrong": "count",
    "aurc": "fraction",
    "within_superclass_error_share": "percent",
    "attention_entropy": "fraction",
    "attention_entropy_wrong": "fraction",
}
PER_CASE = {
    "true_class": "class",
    "baseline_prediction": "class",
    "cutmix_prediction": "class",
    "baseline_confidence": "percent",
    "cutmix_confidence": "percent",
    "confidence_change": "points",
    "baseline_wrong": "flag",
    "fixed": "flag",
}
GLOBAL = {
    "compare.accuracy_delta": "points",
    "compare.wrong_delta": "count",
    "compare.mean_confidence_wrong_delta": "points",
    "compare.train_val_gap_delta": "points",
    "compare.attention_entropy_delta": "fraction",
    "cases.baseline_failures": "count",
    "cases.fixed": "count",
    "cases.still_wrong": "count",
    "migration.corrected": "count",
    "migration.regressed": "count",
    "migration.net": "count",
    "migration.wrong_both": "count",
    "migration.wrong_both_less_confident": "percent",
    "per_class.improved": "count",
    "per_class.unchanged": "count",
    "per_class.regressed": "count",
    "per_class.improved_or_unchanged": "count",
    "per_class.mean_delta": "points",
    "bootstrap.accuracy_delta_low": "points",
    "bootstrap.accuracy_delta_high": "points",
    "mcnemar.p_value": "p",
}


def expected_claims(reductions: tuple[int, ...]) -> dict[str, str]:
    names = {f"{m}.{k}": u for m in MODELS for k, u in PER_MODEL.items()} | GLOBAL
    names |= {f"compare.reduction_ge_{t}": "percent" for t in reductions}
    names |= {f"case.{i}.{k}": u for i in STUDY_CASE_IDS for k, u in PER_CASE.items()}
    return names | {f"per_class.delta.{c}": "points" for c in CLASS_NAMES}


# ----------------------------------------------------------------------------- synthetic runs


def _ids_and_labels(per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Test IDs (increasing, holding three of the five study cases) and balanced labels."""
    rng = np.random.default_rng(0)
    n = 100 * per_class
    others = np.setdiff1d(np.arange(10_000), STUDY_CASE_IDS)
    ids = np.sort(np.concatenate([rng.choice(others, n - 3, replace=False), [3640, 2372, 8225]]))
    return ids.astype(np.int64), rng.permutation(np.repeat(np.arange(100), per_class)).astype(np.int64)


def synthetic_eval(seed: int, strength: float, per_class: int = 5) -> dict[str, np.ndarray]:
    """Eval arrays in the eval.npz layout: random logits with `strength` added on the true class."""
    ids, labels = _ids_and_labels(per_class)
    rng = np.random.default_rng(seed)
    n = len(ids)
    logits = rng.normal(0, 2, (n, 100)).astype(np.float32)
    logits[np.arange(n), labels] += strength
    val_labels = rng.integers(0, 100, 300)
    val_logits = rng.normal(0, 2, (300, 100)).astype(np.float32)
    val_logits[np.arange(300), val_labels] += strength
    cams = rng.random((n, 4, 4)).astype(np.float32) ** (1 + seed)
    cams[:2] = 0.0  # all-zero Grad-CAM maps happen; they have no entropy
    return {
        "test_ids": ids,
        "test_logits": logits,
        "test_labels": labels,
        "test_coarse": labels // 5,
        "val_logits": val_logits,
        "val_labels": val_labels.astype(np.int64),
        "cam_pred": cams,
        "cam_true": cams.copy(),
        "shown_ids": ids[:2].copy(),
        "shown_images": np.zeros((2, 32, 32, 3), dtype=np.uint8),
        "class_names": np.asarray(CLASS_NAMES),
        "coarse_names": np.asarray([f"group_{i}" for i in range(20)]),
        "provenance": np.asarray(json.dumps({"data_source": "synthetic", "seed": seed})),
    }


def history(train_acc: float, val_acc: float) -> list[dict]:
    return [
        {"epoch": 1, "train_loss": 3.0, "train_acc": 0.1, "val_loss": 3.1, "val_acc": 0.1, "lr": 0.1},
        {
            "epoch": 2,
            "train_loss": 1.25,
            "train_acc": train_acc,
            "val_loss": 2.5,
            "val_acc": val_acc,
            "lr": 0.01,
        },
    ]


HISTORY = {"baseline": history(0.9, 0.5), "cutmix": history(0.7, 0.65)}


@pytest.fixture(scope="module")
def runs() -> tuple[dict, dict]:
    return synthetic_eval(1, 3.0), synthetic_eval(2, 4.5)


@pytest.fixture(scope="module")
def results(runs: tuple[dict, dict]) -> dict:
    return analyse(*runs, HISTORY, CFG, "smoke", [1])


def _plain_types_only(obj) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert type(k) is str
            _plain_types_only(v)
    elif isinstance(obj, list):
        for v in obj:
            _plain_types_only(v)
    else:
        assert obj is None or type(obj) in (str, int, float, bool), type(obj)


# ----------------------------------------------------------------------------- the results


def test_every_claim_of_results_md_with_its_unit(results: dict) -> None:
    reductions = [r["threshold"] for r in results["tables"]["thresholds"] if r["baseline"]]
    expected = expected_claims(tuple(round(100 * t) for t in reductions))
    got = {k: c["unit"] for k, c in results["claims"].items()}
    assert sorted(set(expected) - set(got)) == []
    assert sorted(set(got) - set(expected)) == []
    assert got == expected


def test_results_are_plain_json_without_nan(results: dict) -> None:
    _plain_types_only(results)
    text = json.dumps(results, allow_nan=False)
    assert json.loads(text) == results
    assert set(results) == {
        "schema",
        "profile",
        "data_source",
        "claims",
        "tables",
        "series",
        "identities",
        "provenance",
    }
    assert results["data_source"] == "synthetic" and results["provenance"]["cutmix"]["seed"] == 2


def test_tables_and_series_have_the_results_md_shape(results: dict) -> None:
    t, s = results["tables"], results["series"]
    assert len(t["per_class"]) == 100 and [r["class"] for r in t["per_class"]] == CLASS_NAMES
    assert len(t["gallery"]) == CFG.gallery_size
    assert (
        len({r["baseline_prediction"] for r in t["gallery"]}) == CFG.gallery_size
    )  # one per predicted class
    confidences = [r["baseline_confidence"] for r in t["gallery"]]
    assert confidences == sorted(confidences, reverse=True)
    assert [r["threshold"] for r in t["thresholds"]] == list(CFG.thresholds)
    assert len(t["top_gainers"]) <= 5 and all(r["delta"] < 0 for r in t["regressed_classes"])
    assert set(t["confusions"]) == set(MODELS) and len(t["confusions"]["baseline"]) == CFG.top_confusions
    assert len(s["confidence_hist"]["edges"]) == CFG.hist_bins + 1
    for m in MODELS:
        hist = s["confidence_hist"][m]
        assert sum(hist["wrong"]) == results["claims"][f"{m}.wrong"]["value"]
        assert sum(hist["wrong"]) + sum(hist["correct"]) == 500
        assert sum(s["reliability"][m]["before"]["count"]) == 500
        assert len(s["reliability"][m]["after"]["count"]) == CFG.ece_bins
        assert s["risk_coverage"][m]["coverage"][-1] == 1.0
        assert sum(s["attention"][m]["all"]) + s["attention"][m]["zero_maps"] == 500
    assert s["milestones"] == [1] and s["history"] == HISTORY


def test_cases_report_every_configured_id_with_its_status(results: dict) -> None:
    rows = {r["id"]: r for r in results["tables"]["cases"]}
    assert list(rows) == list(STUDY_CASE_IDS)
    assert rows[5864]["status"] == rows[1214]["status"] == "not_evaluated"
    assert results["claims"]["case.5864.true_class"]["value"] is None
    evaluated = [r for r in rows.values() if r["evaluated"]]
    assert len(evaluated) == 3 and all(r["true_class"] for r in evaluated)
    failures = sum(r["status"] in ("fixed", "still_wrong") for r in evaluated)
    assert results["claims"]["cases.baseline_failures"]["value"] == failures


def test_identities_hold_and_a_broken_one_is_caught(results: dict) -> None:
    assert len(results["identities"]) == 6 and all(i["holds"] for i in results["identities"])
    broken = copy.deepcopy(results)
    broken["claims"]["migration.corrected"]["value"] += 1
    failed = [i["name"] for i in check_identities(broken) if not i["holds"]]
    assert failed == [
        "wrong_baseline − wrong_cutmix = corrected − regressed",
        "wrong_both = wrong_baseline − corrected",
    ]


def test_analyse_raises_when_an_identity_fails(runs: tuple[dict, dict], monkeypatch) -> None:
    real = analysis.migration_section

    def off_by_one(r):
        out = real(r)
        out["claims"]["migration.regressed"]["value"] += 1
        return out

    monkeypatch.setattr(analysis, "migration_section", off_by_one)
    with pytest.raises(AnalysisError, match="corrected − regressed"):
        analyse(*runs, HISTORY, CFG, "smoke", [1])


def test_table2_numbers_by_hand(results: dict, runs: tuple[dict, dict]) -> None:
    c = {k: v["value"] for k, v in results["claims"].items()}
    base = runs[0]
    right = base["test_logits"].argmax(1) == base["test_labels"]
    assert c["baseline.test_accuracy"] == pytest.approx(100 * right.mean())
    assert c["baseline.wrong"] == int((~right).sum()) and c["baseline.test_images"] == 500
    assert c["baseline.error_rate"] == pytest.approx(100 - c["baseline.test_accuracy"])
    assert c["baseline.train_val_gap"] == pytest.approx(40.0) and c["cutmix.train_val_gap"] == pytest.approx(
        5.0
    )
    assert c["compare.train_val_gap_delta"] == pytest.approx(-35.0)
    assert c["baseline.final_train_loss"] == 1.25
    assert c["compare.wrong_delta"] == c["cutmix.wrong"] - c["baseline.wrong"]
    assert (
        c["bootstrap.accuracy_delta_low"] < c["compare.accuracy_delta"] < c["bootstrap.accuracy_delta_high"]
    )
    assert c["per_class.improved"] + c["per_class.unchanged"] + c["per_class.regressed"] == 100


# ----------------------------------------------------------------------------- purity and refusals


def test_inputs_are_not_mutated_and_results_are_deterministic(runs: tuple[dict, dict], results: dict) -> None:
    before = copy.deepcopy(runs), copy.deepcopy(HISTORY)
    again = analyse(*runs, HISTORY, CFG, "smoke", [1])
    for original, now in zip(before[0], runs, strict=True):
        assert set(original) == set(now)
        for key in original:
            np.testing.assert_array_equal(original[key], now[key])
    assert before[1] == HISTORY
    assert again == results


def test_two_identical_models_give_zero_migration_and_zero_deltas(runs: tuple[dict, dict]) -> None:
    same = analyse(
        runs[0], copy.deepcopy(runs[0]), {m: HISTORY["baseline"] for m in MODELS}, CFG, "smoke", [1]
    )
    c = {k: v["value"] for k, v in same["claims"].items()}
    assert c["migration.corrected"] == c["migration.regressed"] == c["migration.net"] == 0
    assert (
        c["migration.wrong_both"] == c["baseline.wrong"] and c["migration.wrong_both_less_confident"] == 0.0
    )
    assert c["compare.accuracy_delta"] == c["per_class.mean_delta"] == 0.0
    assert (
        c["per_class.unchanged"] == 100
        and same["tables"]["regressed_classes"] == same["tables"]["top_gainers"] == []
    )
    assert all(c[f"per_class.delta.{n}"] == 0.0 for n in CLASS_NAMES)
    assert c["bootstrap.accuracy_delta_low"] == c["bootstrap.accuracy_delta_high"] == 0.0
    assert c["mcnemar.p_value"] == 1.0 and c["compare.attention_entropy_delta"] == 0.0


def test_different_test_ids_are_refused(runs: tuple[dict, dict]) -> None:
    other = dict(runs[1], test_ids=runs[1]["test_ids"] + 1)
    with pytest.raises(ValueError, match="differ in test_ids"):
        analyse(runs[0], other, HISTORY, CFG, "smoke", [1])
    shorter = {
        k: (v[:-1] if k in ("test_ids", "test_labels", "test_coarse") else v) for k, v in runs[1].items()
    }
    with pytest.raises(ValueError, match="same profile"):
        analyse(runs[0], shorter, HISTORY, CFG, "smoke", [1])
    with pytest.raises(ValueError, match="lack cam_pred"):
        analyse(runs[0], {k: v for k, v in runs[1].items() if k != "cam_pred"}, HISTORY, CFG, "smoke", [1])


def test_unbalanced_classes_use_the_weighted_per_class_identity(runs: tuple[dict, dict]) -> None:
    keep = np.ones(500, dtype=bool)
    keep[np.flatnonzero(runs[0]["test_labels"] == 7)[:2]] = False  # class 7 keeps 3 of its 5 images
    subset = [{k: (v[keep] if k in PER_IMAGE_KEYS else v) for k, v in r.items()} for r in runs]
    res = analyse(*subset, HISTORY, CFG, "smoke", [1])
    last = res["identities"][-1]
    assert last["name"].startswith("image-weighted") and last["holds"]
    assert res["tables"]["per_class"][7]["images"] == 3


def test_a_tiny_hand_made_pair() -> None:
    """Four images, three classes: every headline number checked by hand."""
    eye = np.eye(3, dtype=np.float32) * 5
    base = synthetic_eval(0, 0.0, per_class=1)
    ids, labels = np.array([1, 2, 3, 4]), np.array([0, 1, 2, 0])
    small = {"test_ids": ids, "test_labels": labels, "test_coarse": np.array([0, 0, 1, 0])}
    small |= {"class_names": np.array(["a", "b", "c"]), "cam_pred": np.ones((4, 4, 4), np.float32)}
    small |= {"val_logits": eye, "val_labels": np.array([0, 1, 2])}
    b = base | small | {"test_logits": eye[[1, 1, 2, 0]]}  # wrong, right, right, right
    c = base | small | {"test_logits": eye[[0, 2, 2, 0]]}  # right, wrong, right, right
    res = analyse(b, c, HISTORY, AnalysisConfig(case_ids=(1, 2, 9)), "smoke", [])
    v = {k: x["value"] for k, x in res["claims"].items()}
    assert v["baseline.test_accuracy"] == v["cutmix.test_accuracy"] == 75.0
    assert (v["migration.corrected"], v["migration.regressed"], v["migration.wrong_both"]) == (1, 1, 0)
    assert (
        v["per_class.delta.a"] == 50.0 and v["per_class.delta.b"] == -100.0 and v["per_class.delta.c"] == 0.0
    )
    assert v["mcnemar.p_value"] == 1.0 and v["migration.wrong_both_less_confident"] is None
    assert v["case.1.fixed"] is True and v["case.2.baseline_wrong"] is False and v["case.9.fixed"] is None
    assert v["baseline.within_superclass_error_share"] == 100.0  # a -> b, both in superclass 0
    assert v["baseline.attention_entropy"] == pytest.approx(1.0)
    assert [r["status"] for r in res["tables"]["cases"]] == [
        "fixed",
        "not_a_baseline_failure",
        "not_evaluated",
    ]


def test_the_analysis_modules_never_import_torch() -> None:
    modules = "analysis cases identities scores metrics".split()
    modules += [f"metrics.{m}" for m in "attention calibration confusions migration selective stats".split()]
    code = (
        "import sys; "
        + "; ".join(f"import pipeline.{m}" for m in modules)
        + "; print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
