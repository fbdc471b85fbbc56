"""The regression gate: exact against frozen numbers for the same inputs, measured tolerances after a
retrain, and its outputs (terminal, strict JSON, JUnit XML read back by a real parser, Markdown,
GitHub annotations)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import junitparser
import pytest

from report.claims import load_claims
from report.gate import check_against_frozen, conservative_tolerance, moved_claims
from report.gate_output import annotations, as_json, exit_status, junit, markdown, source_line, terminal

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = load_claims(ROOT / "report" / "claims.yaml")


def frozen() -> dict:
    claims = {
        "baseline.test_accuracy": {"value": 30.12, "unit": "percent"},
        "baseline.wrong_ge_90": {"value": 400, "unit": "count"},
        "cutmix.temperature": {"value": 1.5, "unit": "temperature"},
        "case.1214.baseline_prediction": {"value": "crab", "unit": "class"},
        "per_class.delta.otter": {"value": 12.0, "unit": "points"},
    }
    return {
        "claims": claims,
        "tables": {"per_class": [{"class": "otter", "delta": 12.0}]},
        "series": {"history": {"baseline": [1.0]}},
        "identities": [{"name": "wrong", "lhs": 3, "rhs": 3, "holds": True}],
        "inputs": {"baseline": {"eval": "e1", "history": "h1"}},
    }


def retrained(results: dict) -> dict:
    other = copy.deepcopy(results)
    other["inputs"] = {"baseline": {"eval": "e2", "history": "h2"}}
    return other


def test_same_inputs_compare_every_claim_and_table_bit_for_bit():
    rows = check_against_frozen(frozen(), frozen(), CLAIMS)
    assert rows and all(r["verdict"] == "pass" and r["mode"] == "exact" for r in rows)
    assert exit_status(rows) == 0
    moved = frozen()
    moved["claims"]["baseline.test_accuracy"]["value"] += 0.5  # a regression: half a point of accuracy
    moved["tables"]["per_class"][0]["delta"] = 12.000000001
    rows = check_against_frozen(moved, frozen(), CLAIMS)
    failed = {r["claim"] for r in rows if r["verdict"] == "fail"}
    assert failed == {"baseline.test_accuracy", "tables.per_class"} and exit_status(rows) == 1


def test_a_retrain_is_judged_by_the_measured_spread_where_there_is_one():
    tolerances = {
        "claims": {"baseline.test_accuracy": {"tolerance": 0.8}, "cutmix.temperature": {"tolerance": 0.6}}
    }
    current = retrained(frozen())
    current["claims"]["baseline.test_accuracy"]["value"] = 30.12 + 0.7
    current["claims"]["cutmix.temperature"]["value"] = 2.0
    rows = {r["claim"]: r for r in check_against_frozen(current, frozen(), CLAIMS, tolerances)}
    assert rows["baseline.test_accuracy"]["verdict"] == "pass"
    assert rows["baseline.test_accuracy"]["mode"] == "tolerance (measured spread)"
    assert rows["cutmix.temperature"]["verdict"] == "pass"
    assert "tables.per_class" not in rows  # tables are compared only for the same inputs
    current["claims"]["baseline.test_accuracy"]["value"] = 30.12 + 0.9
    rows = {r["claim"]: r for r in check_against_frozen(current, frozen(), CLAIMS, tolerances)}
    assert rows["baseline.test_accuracy"]["verdict"] == "fail"


def test_the_conservative_rule_skips_single_images_and_classes_and_widens_counts():
    f = frozen()["claims"]
    assert (
        conservative_tolerance("case.1214.baseline_prediction", f["case.1214.baseline_prediction"], CLAIMS)
        == "skip"
    )
    assert conservative_tolerance("per_class.delta.otter", f["per_class.delta.otter"], CLAIMS) == "skip"
    count = conservative_tolerance("baseline.wrong_ge_90", f["baseline.wrong_ge_90"], CLAIMS)
    assert count >= 3 * math.sqrt(400)
    rows = check_against_frozen(retrained(frozen()), frozen(), CLAIMS)
    assert {r["verdict"] for r in rows} == {"pass", "skip"}
    assert all("conservative rule" in r["mode"] for r in rows if r["type"] == "frozen")


def test_moved_claims_lists_what_a_freeze_changes():
    new = frozen()
    new["claims"]["baseline.wrong_ge_90"]["value"] = 401
    assert moved_claims(frozen(), new) == [("baseline.wrong_ge_90", 400, 401)]


def _failing_rows() -> list[dict]:
    moved = frozen()
    moved["claims"]["baseline.test_accuracy"]["value"] = float("nan")
    moved["claims"]["cutmix.temperature"]["value"] = 9.25
    return check_against_frozen(moved, frozen(), CLAIMS)


def test_json_is_strict_with_one_tolerance_form_a_schema_and_row_types():
    text = as_json(_failing_rows(), {"profile": "smoke"})
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert doc["schema"] == 1 and doc["summary"]["fail"] == 2
    types = {r["type"] for r in doc["rows"]}
    assert types == {"frozen", "table", "identity"}
    assert all(r["tolerance"] is None or isinstance(r["tolerance"], float | int) for r in doc["rows"])
    nan_row = next(r for r in doc["rows"] if r["claim"] == "baseline.test_accuracy")
    assert nan_row["measured"] is None and nan_row["verdict"] == "fail"


def test_junit_is_read_back_by_a_junit_parser(tmp_path):
    rows = _failing_rows()
    path = tmp_path / "claims.xml"
    path.write_text(junit(rows, "claim check"), encoding="utf-8")
    xml = junitparser.JUnitXml.fromfile(str(path))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == len(rows)
    failed = {case.name for case in cases if case.result and isinstance(case.result[0], junitparser.Failure)}
    assert failed == {"baseline.test_accuracy", "cutmix.temperature"}
    message = next(c for c in cases if c.name == "cutmix.temperature").result[0].message
    assert "expected 1.5" in message and "measured 9.25" in message


def test_markdown_names_the_failures():
    text = markdown(_failing_rows(), "claim check: smoke against frozen")
    assert "**2 fail, 0 missing**" in text and "| fail | cutmix.temperature | 1.5 | 9.25 |" in text


def test_terminal_lists_failures_first_fits_the_width_and_summarises_passes():
    rows = _failing_rows()
    for width in (200, 70, 40):
        lines = terminal(rows, width=width).splitlines()
        assert all(len(line) <= width for line in lines), (width, max(lines, key=len))
        assert "--verbose lists the passes" in " ".join(lines)
    wide = terminal(rows, width=200).splitlines()
    assert wide[0].split()[0] == "claim" and wide[2].startswith("FAIL") and wide[3].startswith("FAIL")
    assert len(wide) == 5  # header, rule, two failures, the summary
    narrow = terminal(rows, width=40).splitlines()
    assert narrow[0].startswith("FAIL") and "baseline.test_accuracy" in narrow[0]
    assert len(terminal(rows, verbose=True, width=200).splitlines()) == len(rows) + 3


def test_annotations_point_at_the_line_that_states_the_claim():
    rows = [{"claim": "baseline.test_accuracy", "stated": 60.69, "measured": 50.0, "difference": -10.69,
             "tolerance": 1.0, "verdict": "fail"}]  # fmt: skip
    (line,) = annotations(rows, [ROOT / "report" / "claims.yaml"], ROOT)
    file, number = source_line("baseline.test_accuracy", [ROOT / "report" / "claims.yaml"], ROOT)
    stated = (ROOT / file).read_text().splitlines()[number - 1]
    assert "claim: baseline.test_accuracy," in stated
    assert line.startswith(
        f"::error file=report/claims.yaml,line={number},title=claim baseline.test_accuracy::"
    )
    assert "expected 60.69, measured 50" in line


def test_a_hand_edited_tolerances_file_is_one_line(tmp_path):
    from report.claims import ClaimsError
    from report.gate import load_tolerances

    for tol, why in (
        ('"lots"', "claim a.b has tolerance"),
        ("-1", "claim a.b has tolerance"),
        ("true", "claim a.b has tolerance"),
        ("NaN", "NaN is not a number JSON allows"),  # refused by the JSON reader, before the claim
        ("Infinity", "Infinity is not a number JSON allows"),
    ):
        path = tmp_path / "tolerances.json"
        path.write_text('{"claims": {"a.b": {"tolerance": ' + tol + "}}}")
        with pytest.raises(ClaimsError, match=why):
            load_tolerances(path)


def test_junit_stays_valid_xml_with_control_characters_in_names_and_values(tmp_path):
    """results.json comes from elsewhere: its claim names and values may hold any character."""
    import xml.etree.ElementTree as ET

    hostile = frozen()
    hostile["claims"]["a\x01b"] = {"value": "x\x1b[31m\ud800\uffff", "unit": "class"}
    hostile["claims"]["case.1214.baseline_prediction"]["value"] = "cr\x00ab\x0c"
    current = frozen()
    current["identities"][0] |= {"name": "w\x02", "holds": False}
    rows = check_against_frozen(current, hostile, CLAIMS)
    path = tmp_path / "claims.xml"
    path.write_text(junit(rows, "claim\x07check"), encoding="utf-8")
    ET.parse(path)
    cases = {case.name: case for suite in junitparser.JUnitXml.fromfile(str(path)) for case in suite}
    assert {"a\\x01b", "case.1214.baseline_prediction", "w\\x02"} <= set(cases)
    assert "expected cr\\x00ab\\x0c" in cases["case.1214.baseline_prediction"].result[0].message
    assert "a\\x01b is missing" in cases["a\\x01b"].result[0].message


@pytest.mark.parametrize("width", [200, 30])
def test_the_terminal_table_shows_control_characters_of_a_results_json_escaped(width):
    hostile = frozen()
    hostile["claims"]["a\x1b[2Jb"] = {"value": "x\x1b]0;t\x07\ny", "unit": "class"}
    text = terminal(check_against_frozen(frozen(), hostile, CLAIMS), verbose=True, width=width)
    assert "a\\x1b[2Jb" in text.replace("\n", "") and not any(c in text for c in "\x1b\x07")
