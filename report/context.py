"""The template context: results.json, the claim checks and cases.yaml, arranged for the templates.

Templates only loop and format (report/filters.py); every number they print is a claim or a row
of results.json, and every sentence whose truth depends on the data is chosen here, by a named
rule with its threshold in one place (the constants below), so that the wording follows the
numbers: "the model basically memorised the training set" is written only when the train–val gap
says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from itertools import zip_longest
from pathlib import Path
from typing import Any

from pipeline.config import MODELS, AnalysisConfig
from report.appendix import NOT_RECORDED, check_rows, provenance_rows, run_configs, settings_rows
from report.assets import load_references, load_report_meta
from report.claims import claim_value
from report.differences import STUDY_PROFILE, differences
from report.filters import join_and
from report.outline import FIGURE_ALT, SECTIONS, TABLES
from report.seeds import ablation_context, seeds_context

STUDY_DATA = "cifar-100"

# The rules behind data-dependent wording, in the claims' units.
MEMORISED_GAP = 20.0  # points of train − val accuracy above which "the model memorised the training set"
GAP_COLLAPSED_SHARE = 0.25  # the CutMix gap at most this share of the baseline's: "collapsed"
FAR_LESS_SURE = -25.0  # points of confidence change: "far less sure"
LESS_SURE = -10.0  # points: "less sure"; between this and +10, "barely budged"
MORE_SURE = 10.0
LOSS_NEAR_ZERO = 0.1  # nats: a final training loss this low "approaches zero"
VAL_LOSS_RISE = 1.05  # final val loss over its minimum by this factor: "validation loss increases"
MAJORITY = 50.0  # percent: "most" of a group
SIGNIFICANCE = 0.05  # McNemar p below this: "significant"
CI_LEVEL = "95%"  # the bootstrap interval of RESULTS.md
FEW_REGRESSED = 5  # name every regressed class when there are at most this many
CONFIDENT = 80.0  # percent: a failure case predicted at least this confidently is "confidently wrong"
OVERCONFIDENT_ECE = 10.0  # percent: a baseline ECE this high makes it "this overconfident"
NEARLY_GONE = 90.0  # percent reduction at the top threshold: "the most dangerous errors are almost gone"
STAYS_CONFIDENT = -10.0  # points of change in confidence on correct predictions still called "stays high"
BIG_GAIN = 5.0  # points of accuracy gain called a "jump"; a smaller one is a "gain"
SAME_FOCUS = 0.01  # normalised-entropy difference below which two groups of maps are "about as focused"
TABLE2_THRESHOLDS = (0.9, 0.99)  # the confidence thresholds of the study's Table 2 and Figure 7 caption
HARD_PAIRS = 2  # confused pairs named in §8's "known hard pairs"
CUTMIX_SETTINGS = {"train.cutmix_prob", "train.cutmix_alpha", "train.label_smoothing"}  # what may differ

NAMES = {  # words with digits in them, kept out of the templates
    "dataset": "CIFAR-100",
    "model": "ResNet-18",
    "image_size": "32×32",
    "stem_before": "7×7",
    "stem_after": "3×3",
    "cam_layer": "layer4",
    "cam_grid": "4×4",
    "split": "45k/5k/10k",
    "digest": "SHA-256",
}


# --- small readers ------------------------------------------------------------------------------


def value(results: dict, name: str, default: Any = None) -> Any:
    """A claim's value, or default when results.json lacks it or it does not exist (None)."""
    found = claim_value(results, name)
    return default if found is None else found


def load_case_notes(cases_yaml: str | os.PathLike | Mapping | None) -> dict[int, dict]:
    """{test ID: {hypothesis, gradcam, lesson}} from assets/cases.yaml (a path) or its parsed mapping.

    A path is read and validated by report.cases, so a malformed file fails with its message.
    """
    if cases_yaml is None:
        return {}
    if not isinstance(cases_yaml, Mapping):
        from report.cases import read_cases

        cases_yaml = read_cases(Path(cases_yaml))
    notes = {}
    for key, entry in cases_yaml.items():
        entry = {"hypothesis": entry} if isinstance(entry, str) else dict(entry or {})
        notes[int(key)] = {k: (entry.get(k) or "").strip() for k in ("hypothesis", "gradcam", "lesson")}
    return notes


# --- cases --------------------------------------------------------------------------------------


def case_outcome(row: dict) -> str:
    """Table 3's "what happened" for one case, from its status and confidence change."""
    status = row["status"]
    if status == "not_evaluated":
        return "Not evaluated in this run"
    if status == "not_a_baseline_failure":
        return "Not a failure here: the baseline gets it right"
    if status == "fixed":
        return f"Fixed: now correctly predicts {row['true_class'].replace('_', ' ')}"
    change = row["confidence_change"]
    if change is None:
        text = "Still wrong"
    elif change <= FAR_LESS_SURE:
        text = "Still wrong, but far less sure"
    elif change <= LESS_SURE:
        text = "Still wrong, but less sure"
    elif change < MORE_SURE:
        text = "Still wrong, barely budged"
    else:
        text = "Still wrong, and more sure"
    if row["cutmix_prediction"] != row["baseline_prediction"]:
        text += f"; now says {row['cutmix_prediction'].replace('_', ' ')}"
    return text


def example_failure(failures: list[dict]) -> dict | None:
    """The case §8 quotes as overconfidence: the first confidently wrong one (the study's castle →
    road), else the most confident failure; None without failures."""
    confident = [r for r in failures if (r["baseline_confidence"] or 0.0) >= CONFIDENT]
    return (
        confident[0]
        if confident
        else max(failures, key=lambda r: r["baseline_confidence"] or 0.0, default=None)
    )


def cases_context(results: dict, notes: dict[int, dict]) -> dict:
    rows = []
    for row in results["tables"]["cases"]:
        note = notes.get(int(row["id"]), {})
        rows.append(
            {
                **row,
                "prefix": f"case.{row['id']}.",
                "hypothesis": note.get("hypothesis") or "no hypothesis recorded",
                "has_hypothesis": bool(note.get("hypothesis")),
                "gradcam_note": note.get("gradcam", ""),
                "lesson": note.get("lesson", ""),
                "outcome": case_outcome(row),
            }
        )
    failures = [r for r in rows if r["status"] in ("fixed", "still_wrong")]
    fixed = [r for r in rows if r["status"] == "fixed"]
    still = [r for r in rows if r["status"] == "still_wrong"]
    confs = [r["baseline_confidence"] for r in failures if r["baseline_confidence"] is not None]
    changes = [r["confidence_change"] for r in still if r["confidence_change"] is not None]
    return {
        "rows": rows,
        "failures": failures,
        "example_failure": example_failure(failures),
        "fixed": fixed,
        "still_wrong": still,
        "fixed_ids": join_and([str(r["id"]) for r in fixed]),
        "unevaluated": [r for r in rows if r["status"] == "not_evaluated"],
        "not_failures": [r for r in rows if r["status"] == "not_a_baseline_failure"],
        "conf_min": min(confs, default=None),
        "conf_max": max(confs, default=None),
        "all_failures": len(failures) == len(rows) and bool(rows),
        "all_confident": bool(confs) and min(confs) >= CONFIDENT and len(confs) == len(failures),
        "rest_less_sure": bool(still) and all(c < 0 for c in changes) and len(changes) == len(still),
        "far_less_sure": [r for r in still if (r["confidence_change"] or 0) <= FAR_LESS_SURE],
        "far_less_sure_points": -FAR_LESS_SURE,
        "barely_moved": [r for r in still if LESS_SURE < (r["confidence_change"] or 0) < MORE_SURE],
        "stubborn": max(still, key=lambda r: r["cutmix_confidence"] or 0, default=None),
        "gradcam_notes": [r for r in failures if r["gradcam_note"]],
        "lessons": [r for r in still if r["lesson"]],
    }


# --- data-dependent wording ---------------------------------------------------------------------


def _history_story(epochs: list[dict], milestones: list[int]) -> dict:
    if not epochs:
        return {"val_loss_rises": False, "val_loss_min_epoch": None, "train_loss_near_zero": False}
    best = min(epochs, key=lambda e: e["val_loss"])
    return {
        "val_loss_rises": epochs[-1]["val_loss"] > VAL_LOSS_RISE * best["val_loss"],
        "val_loss_min_epoch": best["epoch"],
        "train_loss_near_zero": epochs[-1]["train_loss"] < LOSS_NEAR_ZERO,
    }


def story(results: dict) -> dict:
    """Flags and small derived facts that choose the wording of data-dependent sentences."""
    v = lambda name, default=None: value(results, name, default)  # noqa: E731
    gap_b, gap_c = v("baseline.train_val_gap", 0.0), v("cutmix.train_val_gap", 0.0)
    history = results["series"]["history"]
    thresholds = results["tables"]["thresholds"]
    reductions = [t["reduction"] for t in thresholds if t["reduction"] is not None]
    acc_delta = v("compare.accuracy_delta", 0.0)
    low, high = v("bootstrap.accuracy_delta_low"), v("bootstrap.accuracy_delta_high")
    p = v("mcnemar.p_value")
    top = thresholds[-1] if thresholds else None
    # Weights given without a history: nothing is known of their training.
    known = {m: bool(history[m]) for m in MODELS}
    devices = {((results.get("provenance") or {}).get(m) or {}).get("device") for m in MODELS}
    return {
        "history_known": known,
        "trained_on_cpu": devices == {"cpu"},
        "trained_here": all(known.values()),
        "weights": given_weights(results),
        "net_gain": v("migration.net", 0) > 0,
        "overconfident": v("baseline.ece", 0.0) >= OVERCONFIDENT_ECE,
        "nearly_gone": top is not None and (top["reduction"] or 0.0) >= NEARLY_GONE,
        "memorised": gap_b >= MEMORISED_GAP if known["baseline"] else None,
        "memorised_gap": MEMORISED_GAP,
        "cutmix_memorised": gap_c >= MEMORISED_GAP if known["cutmix"] else None,
        "gap_verb": "not known"
        if not all(known.values())
        else "collapsed"
        if gap_c <= GAP_COLLAPSED_SHARE * gap_b
        else "narrowed"
        if gap_c < gap_b
        else "did not narrow",
        "baseline_history": _history_story(history["baseline"], results["series"]["milestones"]),
        "cutmix_history": _history_story(history["cutmix"], results["series"]["milestones"]),
        "accuracy_up": acc_delta > 0,
        "ci_excludes_zero": low is not None and high is not None and (low > 0 or high < 0),
        "significant": p is not None and p < SIGNIFICANCE,
        "significance": SIGNIFICANCE,
        "fewer_confident_wrong": v("cutmix.wrong_ge_99", 0) < v("baseline.wrong_ge_99", 0),
        "fewer_wrong": v("compare.wrong_delta", 0) < 0,
        "humbler_when_wrong": v("compare.mean_confidence_wrong_delta", 0.0) < 0,
        "reductions_grow": len(reductions) > 1
        and all(b >= a for a, b in zip(reductions, reductions[1:], strict=False)),
        "less_confident_majority": v("migration.wrong_both_less_confident", 0.0) > MAJORITY,
        "guardrail_helps": v("cutmix.guardrail_accuracy", 0.0) > v("baseline.guardrail_accuracy", 0.0),
        "cutmix_better_calibrated": v("cutmix.ece", 0.0) < v("baseline.ece", 0.0),
        "scaling_helps_baseline": v("baseline.ece_ts", 0.0) < v("baseline.ece", 0.0),
        "cutmix_spreads_more": v("compare.attention_entropy_delta", 0.0) > 0,
        "wrong_more_focused": v("baseline.attention_entropy_wrong", 0.0)
        < v("baseline.attention_entropy", 0.0),
        "focus_differs": abs(
            v("baseline.attention_entropy_wrong", 0.0) - v("baseline.attention_entropy", 0.0)
        )
        >= SAME_FOCUS,
        "stays_confident_when_right": v("cutmix.mean_confidence_correct", 0.0)
        - v("baseline.mean_confidence_correct", 0.0)
        >= STAYS_CONFIDENT,
        "gain_word": "jump" if acc_delta >= BIG_GAIN else "gain" if acc_delta > 0 else "change",
    }


def given_weights(results: dict) -> dict[str, dict]:
    """{model: {path, sha256}} for each model evaluated from weights given with --checkpoint-*."""
    prov = results.get("provenance", {})
    return {
        m: {"path": prov[m]["weights"], "sha256": prov[m].get("weights_sha256", NOT_RECORDED)}
        for m in MODELS
        if (prov.get(m) or {}).get("weights_given")
    }


def threshold_key(threshold: float) -> str:
    """The claim-name suffix of a threshold: 0.9 -> '90' (as in baseline.wrong_ge_90)."""
    return f"{round(100 * threshold)}"


def threshold_rows(results: dict, wanted: tuple[float, ...] | None = None) -> list[dict]:
    """Rows of the thresholds table (all, or those in `wanted`), each with its claim-name key."""
    rows = results["tables"]["thresholds"]
    if wanted is not None:
        rows = [r for r in rows if any(abs(r["threshold"] - w) < 1e-9 for w in wanted)]
    return [{**r, "key": threshold_key(r["threshold"])} for r in rows]


def per_class_context(results: dict) -> dict:
    tables = results["tables"]
    regressed = sorted(tables["regressed_classes"], key=lambda r: r["delta"])
    rows = [
        {**r, "trend": "up" if r["delta"] > 0 else "down" if r["delta"] < 0 else "same"}
        for r in tables["per_class"]
    ]
    third = -(-len(rows) // 3)  # the appendix prints the table in three side-by-side blocks
    blocks = [rows[i : i + third] for i in range(0, len(rows), third)]
    return {
        "n_classes": len(rows),
        "regressed": regressed,
        "name_all_regressed": len(regressed) <= FEW_REGRESSED,
        "worst": regressed[:FEW_REGRESSED],
        "gainers": tables["top_gainers"],
        "block_rows": list(zip_longest(*blocks)),
        "n_blocks": len(blocks),
    }


def hard_pairs(results: dict, model: str = "cutmix", n: int = HARD_PAIRS) -> list[dict]:
    """The model's most frequent confusions, for "special handling for known hard pairs"."""
    return results["tables"]["confusions"].get(model, [])[:n]


def confusion_rows(results: dict) -> list[tuple]:
    """Rank-aligned (baseline row, cutmix row) pairs of the most frequent confusions."""
    conf = results["tables"]["confusions"]
    return list(zip_longest(conf.get("baseline", []), conf.get("cutmix", [])))


# --- settings and the first page ----------------------------------------------------------------


def only_cutmix_differs(rows: list[dict]) -> bool:
    """Whether the two models' configs differ only in the CutMix settings (seed §6)."""
    return all(r["name"] in CUTMIX_SETTINGS for r in rows if r["differs"] and r["name"] != "model")


def banner(results: dict, configs: dict[str, dict]) -> dict | None:
    """What the first page must say when the numbers are not the study's (None when they are)."""
    profile, source = results["profile"], results["data_source"]
    if profile == STUDY_PROFILE and source == STUDY_DATA:
        return None
    prov = results.get("provenance", {}).get("baseline", {})
    return {
        "profile": profile,
        "data_source": source,
        "synthetic": source != STUDY_DATA,
        "differences": differences(configs["baseline"], prov),
    }


# --- everything --------------------------------------------------------------------------------


def description(results: dict, meta: dict) -> str:
    """The page's meta and Open Graph description (the PDF's Subject): what it is, and whose numbers."""
    whose = (
        "the study's own setting"
        if results["profile"] == STUDY_PROFILE and results["data_source"] == STUDY_DATA
        else f"the {results['profile']} profile, not the study's numbers"
    )
    return f"{meta['subject']}: a rebuilt, self-checking edition of {meta['study']}, from {whose}."


def made(results: dict) -> str | None:
    """When the newer of the two runs was made (provenance), as the document's date: from the runs,
    so that the same results give the same document."""
    times = [((results.get("provenance") or {}).get(m) or {}).get("created") for m in MODELS]
    times = [t for t in times if isinstance(t, str)]
    return max(times) if times else None


def numbered(names: list[str] | tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(names, start=1)}


def build_context(
    results: dict, checks: list[dict] | None, cases_yaml: str | os.PathLike | Mapping | None
) -> dict[str, Any]:
    """Everything the templates read: the results' claims and tables, and the wording rules.

    `checks` are the rows of the claim checks (report/claims.py; empty or None: not checked);
    `cases_yaml` is assets/cases.yaml's path or its parsed mapping.
    """
    configs = run_configs(results)
    meta = load_report_meta()
    figure_no = numbered(list(FIGURE_ALT))
    analysis = AnalysisConfig()
    settings = settings_rows(configs, results.get("provenance"))
    thresholds = threshold_rows(results)
    train = configs["baseline"]["train"]
    return {
        "title": meta["title"],
        "profile_tag": None if results["profile"] == STUDY_PROFILE else f"{results['profile']} profile",
        "meta": meta,
        "made": made(results),
        "description": description(results, meta),
        "og_image": f"figures/{next(iter(FIGURE_ALT))}.svg",
        "pdf_download": None,  # publish() sets it for the site once the PDF exists
        "for_site": True,  # the site's HTML (figures link to their full-size SVG); publish() clears it for the PDF
        "subtitle": meta["subtitle"],
        "credit": meta["study"],
        "names": NAMES,
        "refs": load_references(),
        "banner": banner(results, configs),
        "profile": results["profile"],
        "data_source": results["data_source"],
        "claims": results["claims"],
        "sections": [{"id": i, "title": t, "template": p} for i, t, p in SECTIONS],
        "section_no": numbered([s[0] for s in SECTIONS]),
        "figures": {
            name: {"number": figure_no[name], "src": f"figures/{name}.svg", "alt": alt}
            for name, alt in FIGURE_ALT.items()
        },
        "table_no": numbered(TABLES),
        "cases": cases_context(results, load_case_notes(cases_yaml)),
        "story": story(results),
        "per_class": per_class_context(results),
        "thresholds": thresholds,
        "table2_thresholds": threshold_rows(results, TABLE2_THRESHOLDS),
        "top_threshold": thresholds[-1] if thresholds else None,
        "hard_pairs": hard_pairs(results),
        "gallery": results["tables"]["gallery"],
        "confusions": confusion_rows(results),
        "train": train,
        "lr_factor": round(1 / train["lr_gamma"]) if train.get("lr_gamma") else None,
        "only_cutmix_differs": only_cutmix_differs(settings),
        "cutmix_train": configs["cutmix"]["train"],
        "data": configs["baseline"]["data"],
        "guardrail": analysis.guardrail,
        "ece_bins": analysis.ece_bins,
        "bootstrap_resamples": analysis.bootstrap_resamples,
        "ci_level": CI_LEVEL,
        "settings": settings,
        "provenance": provenance_rows(results),
        "checks": list(checks or []),
        "check_rows": check_rows(checks or []),
        "check_counts": {
            v: sum(r.get("verdict") == v for r in checks or []) for v in ("pass", "fail", "missing")
        },
        "identities": results.get("identities", []),
        "models": MODELS,
        "seeds": seeds_context(results),
        "ablation": ablation_context(
            results, list(checks or []), configs["baseline"]["data"], train, MEMORISED_GAP
        ),
    }
