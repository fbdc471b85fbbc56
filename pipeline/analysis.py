"""Every number, table and claim the report states, from the two runs' eval arrays and histories.

Numpy only, pure and deterministic: `analyse` takes the arrays of both eval.npz files (RESULTS.md)
and the training histories and returns the results.json dict, every value a plain JSON type (None
where a number does not exist, never NaN). The sections below follow the report: the study's
Table 2, Figure 7's thresholds, Figure 6's histograms, the failure cases and a gallery, migration,
per-class accuracy, then what a reviewer asks for beyond the study: calibration, selective
prediction, uncertainty of the comparison, confusions and attention spread (pipeline/metrics/).
The identities that must hold between the claims (pipeline/identities.py) are checked on every
analysis; a failure raises AnalysisError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline import cases
from pipeline.config import MODELS, AnalysisConfig
from pipeline.errors import StudyError
from pipeline.evalfile import provenance_of
from pipeline.identities import check_identities
from pipeline.metrics import attention, calibration, confusions, migration, selective, stats
from pipeline.scores import Scored, score

SCHEMA = 1
RISK_COVERAGE_POINTS = 501  # points of the risk-coverage series; the area uses every image
# what analyse reads of each eval.npz (RESULTS.md); the shown images and cam_true are for the figures
REQUIRED_KEYS = ("test_ids", "test_logits", "test_labels", "test_coarse", "val_logits", "val_labels")
REQUIRED_KEYS += ("cam_pred", "class_names", "provenance")


class AnalysisError(StudyError, RuntimeError):
    """An identity between the claims does not hold: the numbers contradict each other."""


@dataclass(frozen=True)
class Run:
    """One model's evaluation: its eval arrays, its scored test predictions and its training epochs."""

    arrays: dict
    s: Scored
    epochs: list


# ----------------------------------------------------------------------------- small helpers


def claim(value, unit: str) -> dict:
    return {"value": value, "unit": unit}


def pct(x: float | None) -> float | None:
    """Fraction -> percent, passing None through."""
    return None if x is None else 100.0 * x


def sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def mean_or_none(x: np.ndarray) -> float | None:
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else None


def plain(obj):
    """Numpy scalars and arrays -> Python types, NaN and inf -> None, tuples -> lists, recursively."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    return obj


def names(run: Run) -> list[str]:
    return [str(n) for n in run.arrays["class_names"]]


def section(claims: dict | None = None, tables: dict | None = None, series: dict | None = None) -> dict:
    return {"claims": claims or {}, "tables": tables or {}, "series": series or {}}


# ----------------------------------------------------------------------------- inputs


def check_pair(baseline: dict, cutmix: dict) -> None:
    """Both runs must hold every key and be evaluated on the same images with the same labels."""
    for model, arrays in zip(MODELS, (baseline, cutmix), strict=True):
        missing = [k for k in REQUIRED_KEYS if k not in arrays]
        if missing:
            raise ValueError(f"the {model} eval arrays lack {', '.join(missing)}: evaluate that run again")
    for key in ("test_ids", "test_labels", "test_coarse", "class_names"):
        a, b = np.asarray(baseline[key]), np.asarray(cutmix[key])
        if a.shape != b.shape or not np.array_equal(a, b):
            raise ValueError(
                f"baseline and cutmix differ in {key} ({a.shape[0]} vs {b.shape[0]} entries): "
                "evaluate both runs with the same profile and data before analysing them"
            )
    n, c = len(baseline["test_ids"]), len(baseline["class_names"])
    for model, arrays in zip(MODELS, (baseline, cutmix), strict=True):
        if np.shape(arrays["test_logits"]) != (n, c):
            raise ValueError(
                f"{model} test_logits has shape {np.shape(arrays['test_logits'])}, expected {(n, c)}"
            )


def data_source(prov: dict[str, dict]) -> str:
    sources = {p.get("data_source", "unknown") for p in prov.values()}
    if len(sources) > 1:
        raise ValueError(f"the runs were evaluated on different data ({', '.join(sorted(sources))})")
    return sources.pop()


# ----------------------------------------------------------------------------- 1. Table 2


def history_claims(m: str, epochs: list) -> dict:
    """Final train and val accuracy (percent), their gap (points) and losses (nats) from history.json."""
    last = epochs[-1] if epochs else {}
    train, val = pct(last.get("train_acc")), pct(last.get("val_acc"))
    return {
        f"{m}.final_train_accuracy": claim(train, "percent"),
        f"{m}.final_val_accuracy": claim(val, "percent"),
        f"{m}.train_val_gap": claim(sub(train, val), "points"),
        f"{m}.final_train_loss": claim(last.get("train_loss"), "nats"),
        f"{m}.final_val_loss": claim(last.get("val_loss"), "nats"),
    }


def table2(runs: dict[str, Run]) -> dict:
    claims = {}
    for m, r in runs.items():
        conf, right = r.s.confidence, r.s.correct
        claims |= {
            f"{m}.test_accuracy": claim(pct(right.mean()), "percent"),
            f"{m}.error_rate": claim(pct((~right).mean()), "percent"),
            f"{m}.test_images": claim(len(right), "count"),
            f"{m}.wrong": claim(int((~right).sum()), "count"),
            **history_claims(m, r.epochs),
            f"{m}.mean_confidence_wrong": claim(pct(mean_or_none(conf[~right])), "percent"),
            f"{m}.mean_confidence_correct": claim(pct(mean_or_none(conf[right])), "percent"),
        }
    return section(claims, series={"history": {m: r.epochs for m, r in runs.items()}})


def compare_claims(claims: dict) -> dict:
    """Cutmix minus baseline for the Table 2 rows the study compares."""

    def delta(key: str) -> float | None:
        return sub(claims[f"cutmix.{key}"]["value"], claims[f"baseline.{key}"]["value"])

    return {
        "compare.accuracy_delta": claim(delta("test_accuracy"), "points"),
        "compare.wrong_delta": claim(delta("wrong"), "count"),
        "compare.mean_confidence_wrong_delta": claim(delta("mean_confidence_wrong"), "points"),
        "compare.train_val_gap_delta": claim(delta("train_val_gap"), "points"),
    }


# ----------------------------------------------------------------------------- 2-3. Figures 7 and 6


def threshold_name(t: float) -> str:
    return f"{round(100 * t):d}"


def reduction(base: int, cut: int) -> float | None:
    """Relative reduction in percent, 100 (1 - cut / base); None when the baseline has none."""
    return 100.0 * (1.0 - cut / base) if base else None


def thresholds(runs: dict[str, Run], cfg: AnalysisConfig) -> dict:
    counts = {
        m: selective.wrong_at_or_above(r.s.confidence, r.s.correct, cfg.thresholds) for m, r in runs.items()
    }
    claims, rows = {}, []
    for m in runs:
        claims |= {
            f"{m}.wrong_ge_{threshold_name(t)}": claim(c, "count")
            for t, c in zip(cfg.thresholds, counts[m], strict=True)
        }
    for i, t in enumerate(cfg.thresholds):
        red = reduction(counts["baseline"][i], counts["cutmix"][i])
        if red is not None:
            claims[f"compare.reduction_ge_{threshold_name(t)}"] = claim(red, "percent")
        rows.append(
            {
                "threshold": t,
                "baseline": counts["baseline"][i],
                "cutmix": counts["cutmix"][i],
                "reduction": red,
            }
        )
    return section(claims, tables={"thresholds": rows})


def confidence_hist(runs: dict[str, Run], cfg: AnalysisConfig) -> dict:
    """Counts of wrong and of correct predictions on fixed confidence bins over [0, 1] (Figure 6)."""
    edges = np.linspace(0.0, 1.0, cfg.hist_bins + 1)
    hist = {"edges": edges}
    for m, r in runs.items():
        hist[m] = {
            k: np.histogram(r.s.confidence[mask], edges)[0]
            for k, mask in (("wrong", ~r.s.correct), ("correct", r.s.correct))
        }
    return section(series={"confidence_hist": hist})


# ----------------------------------------------------------------------------- 4. cases and gallery


def case_claims(row: dict) -> dict:
    p = f"case.{row['id']}"
    wrong = None if not row["evaluated"] else row["status"] != "not_a_baseline_failure"
    return {
        f"{p}.true_class": claim(row["true_class"], "class"),
        f"{p}.baseline_prediction": claim(row["baseline_prediction"], "class"),
        f"{p}.cutmix_prediction": claim(row["cutmix_prediction"], "class"),
        f"{p}.baseline_confidence": claim(row["baseline_confidence"], "percent"),
        f"{p}.cutmix_confidence": claim(row["cutmix_confidence"], "percent"),
        f"{p}.confidence_change": claim(row["confidence_change"], "points"),
        f"{p}.baseline_wrong": claim(wrong, "flag"),
        f"{p}.fixed": claim(None if wrong is None else row["status"] == "fixed", "flag"),
    }


def failure_cases(runs: dict[str, Run], cfg: AnalysisConfig) -> dict:
    b, c = runs["baseline"], runs["cutmix"]
    ids, labels = b.arrays["test_ids"], b.arrays["test_labels"]
    rows = [cases.case_row(i, ids, labels, b.s, c.s, names(b)) for i in cfg.case_ids]
    claims = {}
    for row in rows:
        claims |= case_claims(row)
    status = [row["status"] for row in rows]
    claims |= {
        "cases.baseline_failures": claim(sum(s in ("fixed", "still_wrong") for s in status), "count"),
        "cases.fixed": claim(status.count("fixed"), "count"),
        "cases.still_wrong": claim(status.count("still_wrong"), "count"),
    }
    gallery = cases.gallery_rows(ids, labels, b.s, c.s, names(b), cfg.gallery_size)
    return section(claims, tables={"cases": rows, "gallery": gallery})


# ----------------------------------------------------------------------------- 5-6. migration, per class


def migration_section(runs: dict[str, Run]) -> dict:
    b, c = runs["baseline"].s, runs["cutmix"].s
    mig = migration.migration(b.correct, c.correct, b.confidence, c.confidence)
    claims = {
        f"migration.{k}": claim(mig[k], "count") for k in ("corrected", "regressed", "net", "wrong_both")
    }
    claims["migration.wrong_both_less_confident"] = claim(pct(mig["wrong_both_less_confident"]), "percent")
    return section(claims)


def per_class_rows(runs: dict[str, Run]) -> list[dict]:
    """100 rows in label order: accuracy (percent) per model, delta (points), images of the class."""
    class_names, labels = names(runs["baseline"]), runs["baseline"].arrays["test_labels"]
    counts = {m: migration.per_class_counts(r.s.correct, labels, len(class_names)) for m, r in runs.items()}
    images = counts["baseline"][1]
    rows = []
    for k, name in enumerate(class_names):
        n = int(images[k])
        acc = {m: 100.0 * counts[m][0][k] / n if n else None for m in runs}
        delta = 100.0 * (counts["cutmix"][0][k] - counts["baseline"][0][k]) / n if n else None
        rows.append({"class": name, **acc, "delta": delta, "images": n})
    return rows


def per_class_section(runs: dict[str, Run]) -> dict:
    rows = per_class_rows(runs)
    present = [r for r in rows if r["images"]]
    diffs = np.array([r["delta"] for r in present])  # sign-exact: counts over the same n per class
    changes = {
        "improved": int((diffs > 0).sum()),
        "unchanged": int((diffs == 0).sum()),
        "regressed": int((diffs < 0).sum()),
    }
    claims = {f"per_class.{k}": claim(v, "count") for k, v in changes.items()}
    claims["per_class.improved_or_unchanged"] = claim(changes["improved"] + changes["unchanged"], "count")
    claims["per_class.mean_delta"] = claim(float(diffs.mean()) if diffs.size else None, "points")
    claims |= {f"per_class.delta.{r['class']}": claim(r["delta"], "points") for r in rows}
    regressed = sorted((r for r in present if r["delta"] < 0), key=lambda r: r["delta"])
    gainers = sorted((r for r in present if r["delta"] > 0), key=lambda r: -r["delta"])[:5]
    return section(claims, tables={"per_class": rows, "regressed_classes": regressed, "top_gainers": gainers})


# ----------------------------------------------------------------------------- 7. beyond the study


def calibration_of(logits: np.ndarray, labels: np.ndarray, n_bins: int) -> tuple[dict, dict]:
    """ECE and MCE (percent), NLL (nats), Brier (fraction) of one set of logits; and its reliability bins."""
    s = score(logits, labels)
    metrics = {
        "ece": pct(calibration.ece(s.confidence, s.correct, n_bins)),
        "mce": pct(calibration.mce(s.confidence, s.correct, n_bins)),
        "nll": calibration.nll(logits, labels),
        "brier": calibration.brier(logits, labels),
    }
    return metrics, calibration.reliability(s.confidence, s.correct, n_bins)


CALIBRATION_UNITS = {"ece": "percent", "mce": "percent", "nll": "nats", "brier": "fraction"}


def fitted_temperature(r: Run) -> float | None:
    """T fitted on the model's own val logits; None when the run has no val images."""
    val_labels = r.arrays["val_labels"]
    return calibration.fit_temperature(r.arrays["val_logits"], val_labels) if len(val_labels) else None


def calibration_section(runs: dict[str, Run], cfg: AnalysisConfig) -> dict:
    """Before and after temperature scaling fitted on each model's val logits (Guo et al. 2017)."""
    claims, reliability = {}, {}
    for m, r in runs.items():
        logits, labels = np.asarray(r.arrays["test_logits"], dtype=np.float64), r.arrays["test_labels"]
        t = fitted_temperature(r)
        before, rel_before = calibration_of(logits, labels, cfg.ece_bins)
        after, rel_after = calibration_of(logits / t, labels, cfg.ece_bins) if t else ({}, None)
        claims |= {f"{m}.{k}": claim(v, CALIBRATION_UNITS[k]) for k, v in before.items()}
        claims[f"{m}.temperature"] = claim(t, "temperature")
        claims |= {f"{m}.{k}_ts": claim(after.get(k), u) for k, u in CALIBRATION_UNITS.items()}
        reliability[m] = {"before": rel_before, "after": rel_after}
    return section(claims, series={"reliability": reliability})


def selective_section(runs: dict[str, Run], cfg: AnalysisConfig) -> dict:
    """The 70% guardrail the study proposes (seed §8) and the risk-coverage curve (Geifman & El-Yaniv 2017)."""
    claims, curves = {}, {}
    for m, r in runs.items():
        g = selective.guardrail(r.s.confidence, r.s.correct, cfg.guardrail)
        claims |= {
            f"{m}.guardrail_coverage": claim(pct(g["coverage"]), "percent"),
            f"{m}.guardrail_accuracy": claim(pct(g["accuracy"]), "percent"),
            f"{m}.guardrail_accepted_wrong": claim(g["accepted_wrong"], "count"),
            f"{m}.aurc": claim(selective.aurc(r.s.confidence, r.s.correct), "fraction"),
        }
        coverage, risk = selective.risk_coverage(r.s.confidence, r.s.correct)
        keep = selective.thin(len(coverage), RISK_COVERAGE_POINTS)
        curves[m] = {"coverage": coverage[keep], "risk": risk[keep]}
    return section(claims, series={"risk_coverage": curves})


def uncertainty_section(runs: dict[str, Run], cfg: AnalysisConfig) -> dict:
    """Paired bootstrap interval of the accuracy difference and McNemar's exact test (McNemar 1947)."""
    b, c = runs["baseline"].s, runs["cutmix"].s
    low, high = stats.paired_bootstrap_interval(
        b.correct, c.correct, cfg.bootstrap_resamples, cfg.bootstrap_seed
    )
    mig = migration.migration(b.correct, c.correct, b.confidence, c.confidence)
    return section(
        {
            "bootstrap.accuracy_delta_low": claim(pct(low), "points"),
            "bootstrap.accuracy_delta_high": claim(pct(high), "points"),
            "mcnemar.p_value": claim(stats.mcnemar_exact_p(mig["corrected"], mig["regressed"]), "p"),
        }
    )


def confusion_section(runs: dict[str, Run], cfg: AnalysisConfig) -> dict:
    """Top (true, predicted) pairs per model and the share of errors inside the true superclass."""
    b = runs["baseline"]
    class_names, labels = names(b), b.arrays["test_labels"]
    superclass = confusions.superclass_of(labels, b.arrays["test_coarse"], len(class_names))
    claims, table = {}, {}
    for m, r in runs.items():
        share = confusions.within_superclass_share(labels, r.s.pred, superclass)
        claims[f"{m}.within_superclass_error_share"] = claim(pct(share), "percent")
        pairs = confusions.top_confusions(labels, r.s.pred, len(class_names), cfg.top_confusions)
        table[m] = [
            {
                "true_class": class_names[t],
                "predicted_class": class_names[p],
                "count": n,
                "same_superclass": bool(superclass[p] >= 0 and superclass[p] == superclass[t]),
            }
            for t, p, n in pairs
        ]
    return section(claims, tables={"confusions": table})


def attention_section(runs: dict[str, Run], cfg: AnalysisConfig) -> dict:
    """Normalised entropy of each predicted-class Grad-CAM map: mean and histogram, all and wrong."""
    edges = np.linspace(0.0, 1.0, cfg.hist_bins + 1)
    claims, series = {}, {"edges": edges}
    for m, r in runs.items():
        h = attention.normalised_entropy(r.arrays["cam_pred"])
        wrong = h[~r.s.correct]
        claims[f"{m}.attention_entropy"] = claim(mean_or_none(h), "fraction")
        claims[f"{m}.attention_entropy_wrong"] = claim(mean_or_none(wrong), "fraction")
        counts = {k: np.histogram(v[~np.isnan(v)], edges)[0] for k, v in (("all", h), ("wrong", wrong))}
        series[m] = {**counts, "zero_maps": int(np.isnan(h).sum())}  # all-zero maps have no entropy
    delta = sub(claims["cutmix.attention_entropy"]["value"], claims["baseline.attention_entropy"]["value"])
    claims["compare.attention_entropy_delta"] = claim(delta, "fraction")
    return section(claims, series={"attention": series})


# ----------------------------------------------------------------------------- the whole analysis


def merge(sections: list[dict]) -> dict:
    out = section()
    for s in sections:
        for part in ("claims", "tables", "series"):
            out[part] |= s[part]
    return out


def analyse(
    baseline: dict,
    cutmix: dict,
    history: dict[str, list],
    cfg: AnalysisConfig,
    profile: str,
    milestones: list[int],
) -> dict:
    """The whole results.json (RESULTS.md) from both runs' eval arrays and their history epochs."""
    check_pair(baseline, cutmix)
    runs = {
        m: Run(a, score(a["test_logits"], a["test_labels"]), list(history.get(m, [])))
        for m, a in zip(MODELS, (baseline, cutmix), strict=True)
    }
    parts = merge(
        [
            table2(runs),
            thresholds(runs, cfg),
            confidence_hist(runs, cfg),
            failure_cases(runs, cfg),
            migration_section(runs),
            per_class_section(runs),
            calibration_section(runs, cfg),
            selective_section(runs, cfg),
            uncertainty_section(runs, cfg),
            confusion_section(runs, cfg),
            attention_section(runs, cfg),
        ]
    )
    parts["claims"] |= compare_claims(parts["claims"])
    parts["series"]["milestones"] = list(milestones)
    prov = {m: provenance_of(r.arrays) for m, r in runs.items()}
    results = plain(
        {"schema": SCHEMA, "profile": profile, "data_source": data_source(prov), **parts, "provenance": prov}
    )
    results["identities"] = check_identities(results)
    failed = [i["name"] for i in results["identities"] if not i["holds"]]
    if failed:
        raise AnalysisError(f"identities do not hold: {'; '.join(failed)}")
    return results
