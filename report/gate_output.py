"""The claim checks for people and for CI: a terminal table, strict JSON, JUnit XML, Markdown and
GitHub Actions annotations, from the same rows (report/claims.py, report/gate.py).

Exit codes of `build.py check` and `build.py diff`: 0 every claim passes, 1 a claim failed or is
missing, 2 a usage or setup error (unknown profile, missing or unreadable results).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

from pipeline.printable import printable
from report.claims import allowed

VERDICTS = ("fail", "missing", "pass", "skip")
JSON_SCHEMA = 1


# ----------------------------------------------------------------------------- the rows


def counts(rows: list[dict]) -> dict[str, int]:
    return {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}


def exit_status(rows: list[dict]) -> int:
    c = counts(rows)
    return 1 if c["fail"] or c["missing"] else 0


def row_type(row: dict) -> str:
    if "type" in row:
        return row["type"]
    return {"predicate": "predicate", "identity": "identity"}.get(row.get("where"), "stated")


def absolute_tolerance(row: dict) -> float | None:
    """The one tolerance form of the JSON: an absolute difference allowed, or null for "must be equal"."""
    tol, stated = row.get("tolerance"), row.get("stated")
    if tol is None or tol == "exact" or not _numeric(stated):
        return None
    return allowed(tol, stated)


def _numeric(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _finite(x):
    """NaN and infinities become None (strict JSON has neither)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _cell(x) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return "nan" if math.isnan(x) else f"{x:.6g}"
    return printable(x)  # a value of a results.json made elsewhere: shown, never acting on the terminal


# ----------------------------------------------------------------------------- JSON


def as_json(rows: list[dict], context: dict) -> str:
    """Strict JSON (no NaN): a schema version, the summary and one object per row with its type."""
    out = [
        {
            "type": row_type(r),
            "claim": r["claim"],
            "expected": _finite(r.get("stated")),
            "measured": _finite(r.get("measured")),
            "difference": _finite(r.get("difference")),
            "tolerance": _finite(absolute_tolerance(r)),
            "mode": r.get("mode", "published"),
            "verdict": r["verdict"],
            "where": r.get("where", ""),
        }
        for r in rows
    ]
    doc = {"schema": JSON_SCHEMA, **context, "summary": counts(rows), "rows": out}
    return json.dumps(doc, indent=1, allow_nan=False, default=str)


# ----------------------------------------------------------------------------- the terminal


COLUMNS = ("claim", "expected", "measured", "difference", "tolerance", "where")


def _cells(r: dict) -> tuple[str, ...]:
    tol = absolute_tolerance(r)
    return (
        printable(r["claim"]),
        _cell(r.get("stated")),
        _cell(r.get("measured")),
        _cell(r.get("difference")),
        "exact" if tol is None else f"±{tol:.4g}",
        printable(r.get("where", "")),
    )


def _table(rows: list[dict], width: int) -> list[str] | None:
    """One line per row, columns as wide as their cells; None when that does not fit the width."""
    lines = [COLUMNS] + [_cells(r) for r in rows]
    marks = ["", *(r["verdict"].upper() for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    mark_w = max(len(m) for m in marks)
    out = [
        (m.ljust(mark_w) + "  " + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))).rstrip()
        for m, line in zip(marks, lines, strict=True)
    ]
    out.insert(1, "-" * max(len(o) for o in out))
    return out if all(len(o) <= width for o in out) else None


def _stacked(rows: list[dict], width: int) -> list[str]:
    """For a narrow terminal: the verdict and claim, then the numbers wrapped beneath."""
    out = []
    for r in rows:
        heading = f"{r['verdict'].upper()}  {printable(r['claim'])}"
        out += textwrap.wrap(heading, width, break_on_hyphens=False)
        details = ", ".join(f"{k} {v}" for k, v in zip(COLUMNS[1:], _cells(r)[1:], strict=True))
        out += textwrap.wrap(details, width, initial_indent="    ", subsequent_indent="    ")
    return out


def terminal(rows: list[dict], verbose: bool = False, width: int | None = None) -> str:
    """Failures and missing claims first; passes summarised unless verbose; never wider than the terminal."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    bad = [r for r in rows if r["verdict"] in ("fail", "missing")]
    shown = bad + ([r for r in rows if r["verdict"] not in ("fail", "missing")] if verbose else [])
    text = (_table(shown, width) or _stacked(shown, width)) if shown else []
    c = counts(rows)
    modes: dict[str, int] = {}
    for r in rows:
        if r["verdict"] == "pass":
            modes[r.get("mode", "published")] = modes.get(r.get("mode", "published"), 0) + 1
    by_mode = ", ".join(f"{n} {m}" for m, n in modes.items())
    summary = (
        f"claims: {c['fail']} fail, {c['missing']} missing, {c['pass']} pass"
        + (f" ({by_mode})" if by_mode else "")
        + (f", {c['skip']} not compared" if c["skip"] else "")
        + ("" if verbose or not c["pass"] else "; --verbose lists the passes")
    )
    return "\n".join(text + textwrap.wrap(summary, width))


# ----------------------------------------------------------------------------- JUnit XML


def junit(rows: list[dict], suite: str) -> str:
    """JUnit XML: one testcase per claim, predicate, identity and table; failures carry the numbers.

    Every text is escaped by `printable`: names and values may come from a results.json made
    elsewhere, and XML 1.0 cannot hold a control character other than tab, CR and LF.
    """
    c = counts(rows)
    root = ET.Element("testsuites", name="claim checks")
    ts = ET.SubElement(
        root,
        "testsuite",
        name=printable(suite),
        tests=str(len(rows)),
        failures=str(c["fail"]),
        errors=str(c["missing"]),
        skipped=str(c["skip"]),
    )
    for r in rows:
        name = printable(r["claim"])
        case = ET.SubElement(ts, "testcase", classname=printable(f"claims.{row_type(r)}"), name=name)
        detail = " ".join(f"{k}={v}" for k, v in zip(COLUMNS[1:], _cells(r)[1:], strict=True))
        if r["verdict"] == "fail":
            message = printable(_summary_line(r))
            ET.SubElement(case, "failure", message=message, type="ClaimMoved").text = printable(detail)
        elif r["verdict"] == "missing":
            ET.SubElement(case, "error", message=f"{name} is missing from the results", type="Missing")
        elif r["verdict"] == "skip":
            ET.SubElement(case, "skipped", message=printable(r.get("mode", "not compared")))
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _summary_line(r: dict) -> str:
    tol = absolute_tolerance(r)
    return (
        f"{r['claim']}: expected {_cell(r.get('stated'))}, measured {_cell(r.get('measured'))}"
        + (f", difference {_cell(r.get('difference'))}" if r.get("difference") is not None else "")
        + (" (must be equal)" if tol is None else f" (tolerance ±{tol:.4g})")
    )


# ----------------------------------------------------------------------------- Markdown


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[dict], title: str) -> str:
    """A summary for a pull-request comment or $GITHUB_STEP_SUMMARY: the counts, then what failed."""
    c = counts(rows)
    icon = "❌" if exit_status(rows) else "✅"
    out = [
        f"### {icon} {_md(title)}",
        "",
        f"**{c['fail']} fail, {c['missing']} missing**, {c['pass']} pass, {c['skip']} not compared.",
    ]
    bad = [r for r in rows if r["verdict"] in ("fail", "missing")]
    if bad:
        out += ["", "| verdict | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
        out += [f"| {r['verdict']} | " + " | ".join(_md(x) for x in _cells(r)) + " |" for r in bad]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- GitHub annotations


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def source_line(name: str, files: list[Path], root: Path) -> tuple[str, int] | None:
    """(file relative to root, 1-based line) where a claim is defined: claims.yaml, else the frozen results."""
    pattern = re.compile(rf"(?:claim|name):\s*{re.escape(name)}\b|\"{re.escape(name)}\":")
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for i, line in enumerate(lines, 1):
            if pattern.search(line):
                rel = path.relative_to(root) if path.is_relative_to(root) else path
                return str(rel), i
    return None


def annotations(rows: list[dict], files: list[Path], root: Path) -> list[str]:
    """`::error` workflow commands, one per failing or missing claim, at the line that defines it."""
    out = []
    for r in rows:
        if r["verdict"] not in ("fail", "missing"):
            continue
        where = source_line(r["claim"], files, root)
        place = f"file={_escape_property(where[0])},line={where[1]}," if where else ""
        out.append(
            f"::error {place}title={_escape_property('claim ' + r['claim'])}::{_escape_data(_summary_line(r))}"
        )
    return out


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"
