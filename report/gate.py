"""The regression gate: a build's numbers against the frozen numbers, exactly or within measured tolerances.

`freeze` stores the results (the claims ledger and the tables of results.json) beside the inputs
they came from, with those inputs' digests. A check compares the current results with those frozen
*numbers*, never with numbers recomputed by the current code, so a change in the analysis code
cannot move both sides at once:

- same inputs (byte-identical eval.npz and history.json: their digests agree): every claim and
  every table must be bit-equal ("exact");
- other inputs (a retrain, another machine, given weights): each claim within its retrain
  tolerance ("tolerance"). The tolerances come from `tolerances.json` beside the frozen results,
  measured as the spread over retrains with other seeds (benchmarks/claim_spread.py); where none
  was measured, from the conservative rule below.

The anchors: pytest-regressions' num_regression (per-key tolerances) and `dvc metrics diff`
(a revision against the workspace); this is their union, tied to the claims of the report.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from pipeline.jsonfile import parse_json
from report.claims import ClaimsError, allowed, claim_value, compare, identity_row

SCHEMA = 1  # of the JSON rows and of tolerances.json

# Where no spread was measured: the unit defaults of claims.yaml, times this, and for counts at
# least this many Poisson standard deviations (a count n of test images moves by about sqrt(n)
# between retrains). Generous on purpose: a retrain of an unmeasured profile must not cry wolf.
CONSERVATIVE_MULTIPLE = 3.0
COUNT_SIGMAS = 3.0
# Claims of single images and single classes move by tens of points between retrains (100 test
# images per class; one image's confidence is one sample): not compared on a retrain unless measured.
UNSTABLE_PREFIXES = ("case.", "per_class.delta.", "gallery.")


def load_tolerances(path: Path) -> dict | None:
    """tolerances.json beside the frozen results, or None when there is none."""
    if not path.exists():
        return None
    try:
        doc = parse_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ClaimsError(f"{path} is unreadable ({exc}): restore it with git checkout") from None
    return validate_tolerances(doc, path)


def validate_tolerances(doc, path) -> dict:
    """Each claim's tolerance is a finite number >= 0, null (exact) or "skip"; one line naming the file."""
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), dict):
        raise ClaimsError(f"{path}: expected a mapping with a 'claims' mapping: restore it with git checkout")
    for name, entry in doc["claims"].items():
        tol = entry.get("tolerance", "missing") if isinstance(entry, dict) else "missing"
        number = (
            isinstance(tol, int | float) and not isinstance(tol, bool) and math.isfinite(tol) and tol >= 0
        )
        if not (tol is None or tol == "skip" or number):
            raise ClaimsError(
                f"{path}: claim {name} has tolerance {tol!r}: use a finite number >= 0, null (exact) or "
                "'skip'; or measure again with benchmarks/claim_spread.py"
            )
    return doc


def conservative_tolerance(name: str, entry: dict, claims: dict) -> float | str | None:
    """The rule for a claim whose spread was not measured: "skip", None (exact) or an absolute tolerance."""
    if name.startswith(UNSTABLE_PREFIXES):
        return "skip"
    value, unit = entry.get("value"), entry.get("unit")
    stated = {c["claim"]: c.get("tolerance") for c in claims.get("claims", [])}
    rule = stated.get(name, (claims.get("default_tolerance") or {}).get(unit, "exact"))
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "skip"  # a class name or a flag: one sample of a discrete choice
    base = allowed(rule, value)
    if base is None:
        return "skip" if unit not in ("count",) else COUNT_SIGMAS * math.sqrt(abs(value)) + 1
    tol = CONSERVATIVE_MULTIPLE * base
    return max(tol, COUNT_SIGMAS * math.sqrt(abs(value)) + 1) if unit == "count" else tol


def retrain_tolerance(name: str, entry: dict, claims: dict, measured: dict | None) -> tuple[object, str]:
    """(tolerance, how it was obtained) for one claim on a retrain."""
    if measured is not None and name in measured.get("claims", {}):
        return measured["claims"][name]["tolerance"], "measured spread"
    return conservative_tolerance(name, entry, claims), "conservative rule"


def _row(kind: str, name: str, reference, current, tol, mode: str) -> dict:
    if tol == "skip":
        return {
            "type": kind,
            "claim": name,
            "stated": reference,
            "measured": current,
            "difference": None,
            "tolerance": None,
            "verdict": "skip",
            "mode": mode,
        }
    row = compare(name, reference, current, tol)
    if reference is None and current is None:
        row["verdict"] = "pass"  # absent on both sides (e.g. a reduction from zero)
    return {**row, "type": kind, "mode": mode}


def same_inputs(current: dict, frozen: dict) -> bool:
    return bool(current.get("inputs")) and current.get("inputs") == frozen.get("inputs")


def check_against_frozen(
    current: dict, frozen: dict, claims: dict, tolerances: dict | None = None
) -> list[dict]:
    """Every claim of a build against the frozen numbers, and in exact mode every table too."""
    exact = same_inputs(current, frozen)
    rows = []
    for name, entry in frozen.get("claims", {}).items():
        if exact:
            tol, mode = None, "exact"
        else:
            tol, how = retrain_tolerance(name, entry, claims, tolerances)
            mode = f"tolerance ({how})" if tol != "skip" else f"not compared on a retrain ({how})"
        rows.append(_row("frozen", name, entry.get("value"), claim_value(current, name), tol, mode))
    if exact:
        for section in ("tables", "series"):
            for key, ref in (frozen.get(section) or {}).items():
                now = (current.get(section) or {}).get(key)
                rows.append(_row("table", f"{section}.{key}", _digest(ref), _digest(now), None, "exact"))
    rows += [{**identity_row(i), "type": "identity", "mode": "exact"} for i in current.get("identities", [])]
    for row in rows:
        row["where"] = row.get("where") or f"frozen results ({row['mode']})"
    return rows


def _digest(obj) -> str | None:
    """A table as a short fingerprint of its canonical JSON: bit-equal tables, equal fingerprints."""
    if obj is None:
        return None
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def moved_claims(old: dict, new: dict) -> list[tuple[str, object, object]]:
    """(claim, old value, new value) for every claim that differs between two results: what a freeze moves."""
    names = list(dict.fromkeys([*old.get("claims", {}), *new.get("claims", {})]))
    return [
        (n, claim_value(old, n), claim_value(new, n))
        for n in names
        if claim_value(old, n) != claim_value(new, n)
    ]
