"""The claims ledger: what the study states against what a build measures.

`report/claims.yaml` lists every number the study's report states, as a claim of results.json with
the stated value and a tolerance, and its qualitative statements as predicates over claims. The
checks here turn a build's results into a table (claim, stated, measured, difference, tolerance,
verdict) for `build.py check` and the report's appendix. Pure functions except the two loaders.
"""

from __future__ import annotations

import math
import operator
import re
from pathlib import Path

from pipeline.errors import StudyError
from pipeline.evalfile import is_frozen
from pipeline.jsonfile import parse_json
from pipeline.printable import printable
from report.yamlfile import load_yaml

OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class ClaimsError(StudyError, ValueError):
    """claims.yaml or results.json cannot be used; the message names the file and the entry."""


# ----------------------------------------------------------------------------- loading


def load_results(path: Path) -> dict:
    """results.json, checked for the shape every reader relies on (claims of {value, unit})."""
    try:
        doc = parse_json(Path(path).read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise ClaimsError(f"{path} is unreadable ({reason}): {_results_fix(path)}") from None
    return validate_results(doc, path)


def validate_results(doc, path: Path | str) -> dict:
    """The shape of a results.json that the checks and the report rely on; one line naming the file."""
    claims = doc.get("claims") if isinstance(doc, dict) else None
    if not isinstance(claims, dict) or not all(isinstance(e, dict) and "value" in e for e in claims.values()):
        raise ClaimsError(
            f"{path} is not a results.json (no 'claims' of {{value, unit}}): {_results_fix(path)}"
        )
    for key, kind in (("identities", list), ("tables", dict), ("series", dict), ("inputs", dict)):
        if key in doc and not isinstance(doc[key], kind):
            raise ClaimsError(f"{path}: '{key}' is not a {kind.__name__}: {_results_fix(path)}")
    if not all(isinstance(i, dict) and "name" in i for i in doc.get("identities", [])):
        raise ClaimsError(f"{path}: an identity has no name: {_results_fix(path)}")
    for name, entry in claims.items():
        if not _in_range(entry["value"]):
            raise ClaimsError(
                f"{path}: claim {printable(name)} has value {_shown(entry['value'])}, not a finite number: "
                f"{_results_fix(path)}"
            )
    return doc


def _in_range(x) -> bool:
    """False for a number the checks cannot compute with: NaN, an infinity, or an integer beyond
    float's range (float(10**400) raises OverflowError); True for anything else."""
    if not _numeric(x):
        return True
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def _shown(x) -> str:
    """A value for a message; an integer of hundreds of digits by its size (str() refuses past 4,300)."""
    return f"an integer of {x.bit_length()} bits" if isinstance(x, int) and x.bit_length() > 64 else repr(x)


def _results_fix(path: Path) -> str:
    if is_frozen(Path(path)):
        return f"restore the committed file with git checkout -- {path}"
    return "rebuild it with python build.py"


def _tolerance_ok(tol) -> bool:
    """A finite, non-negative tolerance: a number, "N%" or "exact" (None: the same)."""
    if tol == "exact" or tol is None:
        return True
    if isinstance(tol, str):
        return tol.endswith("%") and _is_amount(tol[:-1])
    return isinstance(tol, int | float) and not isinstance(tol, bool) and math.isfinite(tol) and tol >= 0


def _is_amount(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and value >= 0


def _condition_ok(cond) -> bool:
    """[claim, op, claim or number], the op one of OPS and a number finite."""
    return (
        isinstance(cond, list)
        and len(cond) == 3
        and isinstance(cond[1], str)
        and cond[1] in OPS
        and _in_range(cond[0])
        and _in_range(cond[2])
    )


# Claim and predicate names are identifiers: they key results.json, print in the report and the
# terminal, and name JUnit test cases, where a control character would make the XML invalid.
CLAIM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
NAME_RULE = "letters, digits, '_', '.' and '-', starting with a letter or '_'"


def is_claim_name(name) -> bool:
    return isinstance(name, str) and CLAIM_NAME.fullmatch(name) is not None


def validate_claims(doc, path: Path) -> dict:
    """Every row has a claim name and a stated value; tolerances are numbers, "N%" or "exact"."""
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        raise ClaimsError(f"{path}: expected a mapping with a 'claims' list: fix the file's structure")
    for i, row in enumerate(doc["claims"], 1):
        if not isinstance(row, dict) or "claim" not in row or "stated" not in row:
            raise ClaimsError(f"{path}: claims entry {i} needs 'claim' and 'stated': fix that entry")
        if not is_claim_name(row["claim"]):
            raise ClaimsError(
                f"{path}: claims entry {i} names its claim {row['claim']!r}: use the claim's name ({NAME_RULE})"
            )
        if not _tolerance_ok(row.get("tolerance")):
            raise ClaimsError(
                f"{path}: claim {row['claim']} has tolerance {row['tolerance']!r}: use a number, 'N%' or 'exact'"
            )
        if not _in_range(row["stated"]):
            raise ClaimsError(
                f"{path}: claim {row['claim']} states {_shown(row['stated'])}, not a finite number: fix that entry"
            )
        if not isinstance(row.get("where", ""), str):
            raise ClaimsError(
                f"{path}: claim {row['claim']} has 'where' {row['where']!r}: use a text naming where the "
                "report states it"
            )
    predicates = doc.get("predicates") or []
    if not isinstance(predicates, list):
        raise ClaimsError(f"{path}: 'predicates' must be a list: fix the file's structure")
    if not doc["claims"] and not predicates:
        raise ClaimsError(f"{path}: the ledger is empty, so every check would pass: list the study's claims")
    for i, pred in enumerate(predicates, 1):
        conds = pred.get("all") if isinstance(pred, dict) else None
        if not conds or not all(_condition_ok(c) for c in conds):
            raise ClaimsError(
                f"{path}: predicate {i} needs 'all': a list of [claim, op, value] with op in {' '.join(OPS)}"
                " and finite numbers"
            )
        if not all(isinstance(pred.get(k), str) and pred[k] for k in ("name", "text")):
            raise ClaimsError(f"{path}: predicate {i} needs a 'name' and a 'text': fix that entry")
        if not is_claim_name(pred["name"]):
            raise ClaimsError(f"{path}: predicate {i} is named {pred['name']!r}: use a name of {NAME_RULE}")
    defaults = doc.get("default_tolerance") or {}
    if not isinstance(defaults, dict):
        raise ClaimsError(f"{path}: default_tolerance must map units to tolerances: fix the file's structure")
    for unit, tol in defaults.items():
        if not _tolerance_ok(tol):
            raise ClaimsError(
                f"{path}: default_tolerance for {unit} is {tol!r}: use a number, 'N%' or 'exact'"
            )
    return doc


def load_claims(path: Path) -> dict:
    return validate_claims(load_yaml(path, ClaimsError), Path(path))


# ----------------------------------------------------------------------------- comparing


def allowed(tolerance, stated) -> float | None:
    """The absolute tolerance for a stated value; None means the values must be equal."""
    if tolerance in (None, "exact"):
        return None
    if isinstance(tolerance, str):
        return abs(float(stated)) * float(tolerance[:-1]) / 100
    return float(tolerance)


def _numeric(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def compare(claim: str, stated, measured, tolerance) -> dict:
    """One row of the check table."""
    row = {"claim": claim, "stated": stated, "measured": measured, "difference": None, "tolerance": tolerance}
    if measured is None:
        return {**row, "verdict": "missing"}
    tol = allowed(tolerance, stated) if _numeric(stated) else None
    if _numeric(stated) and _numeric(measured):
        row["difference"] = measured - stated
        ok = measured == stated if tol is None else abs(measured - stated) <= tol + 1e-9
    else:
        ok = measured == stated
    return {**row, "verdict": "pass" if ok else "fail"}


def claim_value(results: dict, name: str):
    entry = results.get("claims", {}).get(name)
    return None if entry is None else entry.get("value")


def _operand(results: dict, x):
    return claim_value(results, x) if isinstance(x, str) else x


def check_predicate(results: dict, pred: dict) -> dict:
    """A qualitative statement: every condition [claim, op, claim or value] must hold."""
    measured, ok = [], True
    for left, op, right in pred["all"]:
        a, b = _operand(results, left), _operand(results, right)
        if a is None or b is None:
            return {
                "claim": pred["name"],
                "stated": pred["text"],
                "measured": None,
                "difference": None,
                "tolerance": None,
                "verdict": "missing",
            }
        measured.append(f"{left} = {_short(a)} {op} {_short(b)}")
        try:
            ok = OPS[op](a, b) and ok
        except TypeError:
            raise ClaimsError(
                f"claims.yaml: predicate {pred['name']} compares {left} ({type(a).__name__}) with "
                f"{right!r} ({type(b).__name__}) by {op}: fix that condition"
            ) from None
    verdict = "pass" if ok else "fail"
    return {
        "claim": pred["name"],
        "stated": pred["text"],
        "measured": "; ".join(measured),
        "difference": None,
        "tolerance": None,
        "verdict": verdict,
    }


def _short(x) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def check_published(results: dict, claims: dict) -> list[dict]:
    """Every stated number and qualitative statement of the study against a build's results."""
    rows = [
        compare(c["claim"], c["stated"], claim_value(results, c["claim"]), c.get("tolerance"))
        for c in claims["claims"]
    ]
    for row, c in zip(rows, claims["claims"], strict=True):
        row["where"] = c.get("where", "")
    rows += [{**check_predicate(results, p), "where": "predicate"} for p in claims.get("predicates") or []]
    rows += [identity_row(i) for i in results.get("identities", [])]
    return rows


def identity_row(identity: dict) -> dict:
    return {
        "claim": identity["name"],
        "stated": identity.get("lhs"),
        "measured": identity.get("rhs"),
        "difference": None,
        "tolerance": "exact",
        "verdict": "pass" if identity.get("holds") else "fail",
        "where": "identity",
    }
