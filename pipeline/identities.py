"""Identities that must hold between the claims of one analysis, whatever the data.

Counted claims are tied to each other (the wrong predictions of the two models differ by corrected
minus regressed images; the images wrong under both are those wrong under one less the ones the
other fixed), a threshold's count of confident mistakes never grows with the threshold, and the
per-class deltas average to the accuracy delta. pipeline/analysis.py checks them on every analysis
and refuses results that break one.
"""

from __future__ import annotations

from pipeline.config import MODELS

IDENTITY_TOLERANCE = 1e-6  # points, for identities between float claims


def identity(name: str, lhs, rhs) -> dict:
    if isinstance(lhs, list):
        holds = lhs == rhs
    else:
        holds = lhs is not None and rhs is not None and abs(lhs - rhs) <= IDENTITY_TOLERANCE
    return {"name": name, "lhs": lhs, "rhs": rhs, "holds": bool(holds)}


def per_class_identity(results: dict) -> dict:
    """Mean of per-class deltas = accuracy delta when classes are balanced; else the image-weighted mean."""
    rows = [r for r in results["tables"]["per_class"] if r["images"]]
    accuracy_delta = results["claims"]["compare.accuracy_delta"]["value"]
    if len({r["images"] for r in rows}) <= 1:
        mean_delta = results["claims"]["per_class.mean_delta"]["value"]
        return identity("mean of per-class deltas = accuracy delta", mean_delta, accuracy_delta)
    weighted = sum(r["delta"] * r["images"] for r in rows) / sum(r["images"] for r in rows)
    return identity(
        "image-weighted mean of per-class deltas = accuracy delta (classes unbalanced)",
        weighted,
        accuracy_delta,
    )


def check_identities(results: dict) -> list[dict]:
    """The identities that must hold between the claims of results.json, each with `holds`."""
    v = {k: c["value"] for k, c in results["claims"].items()}
    wb, wc = v["baseline.wrong"], v["cutmix.wrong"]
    corrected, regressed, both = v["migration.corrected"], v["migration.regressed"], v["migration.wrong_both"]
    rows = sorted(results["tables"]["thresholds"], key=lambda r: r["threshold"])
    checks = [
        identity("wrong_baseline − wrong_cutmix = corrected − regressed", wb - wc, corrected - regressed),
        identity("wrong_both = wrong_baseline − corrected", both, wb - corrected),
        identity("wrong_both = wrong_cutmix − regressed", both, wc - regressed),
    ]
    for m in MODELS:
        counts = [r[m] for r in rows]
        checks.append(
            identity(
                f"{m} threshold counts never increase with the threshold",
                counts,
                sorted(counts, reverse=True),
            )
        )
    return checks + [per_class_identity(results)]
