"""The claims ledger: loading claims.yaml and cases.yaml, comparing, predicates, identities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from report.cases import MAX_CASES, MAX_TEXT, CasesError, load_case_ids, read_cases
from report.claims import ClaimsError, check_published, compare, load_claims
from report.gate_output import exit_status

ROOT = Path(__file__).resolve().parents[1]


def load_cases(path: Path) -> dict[int, str]:
    """{test ID: hypothesis} of a cases.yaml, in the file's order."""
    return {key: entry.get("hypothesis") or "" for key, entry in read_cases(path).items()}


def _results(**values) -> dict:
    claims = {k.replace("__", "."): {"value": v, "unit": "percent"} for k, v in values.items()}
    return {
        "claims": claims,
        "identities": [{"name": "wrong", "lhs": 3, "rhs": 3, "holds": True}],
        "inputs": {"a": 1},
    }


def test_the_committed_ledger_loads_and_names_known_claims():
    claims = load_claims(ROOT / "report" / "claims.yaml")
    names = {c["claim"] for c in claims["claims"]}
    assert {"baseline.test_accuracy", "cutmix.wrong_ge_99", "migration.corrected", "case.1214.fixed"} <= names
    assert len(claims["claims"]) >= 50 and len(claims["predicates"]) >= 5


@pytest.mark.parametrize(
    ("stated", "measured", "tol", "verdict"),
    [(60.69, 60.0, 1.0, "pass"), (60.69, 59.6, 1.0, "fail"), (315, 370, "20%", "pass"), (315, 380, "20%", "fail"),
     ("crab", "crab", None, "pass"), ("crab", "lobster", None, "fail"), (True, False, None, "fail"), (5, None, 0, "missing")],
)  # fmt: skip
def test_compare(stated, measured, tol, verdict):
    assert compare("x", stated, measured, tol)["verdict"] == verdict


def test_predicates_and_identities_are_checked():
    claims = {
        "claims": [{"claim": "a.b", "stated": 10, "tolerance": 1}],
        "predicates": [
            {"name": "p", "text": "a.b above c.d", "all": [["a.b", ">", "c.d"], ["a.b", "<", 100]]}
        ],
    }
    rows = check_published(_results(a__b=10.5, c__d=3), claims)
    assert [r["verdict"] for r in rows] == ["pass", "pass", "pass"]
    rows = check_published(_results(a__b=10.5, c__d=30), claims)
    assert rows[1]["verdict"] == "fail" and exit_status(rows) == 1


@pytest.mark.parametrize(
    ("text", "match"),
    [("claims: [{stated: 1}]", "needs 'claim' and 'stated'"), ("claims: [", "cannot be read as YAML"),
     ("- 1", "expected a mapping"), ("claims: [{claim: a, stated: 1, tolerance: lots}]", "has tolerance")],
)  # fmt: skip
def test_malformed_claims_yaml_is_one_clear_line(tmp_path, text, match):
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    with pytest.raises(ClaimsError, match=match) as err:
        load_claims(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_cases_yaml(tmp_path):
    assert load_case_ids(ROOT / "assets" / "cases.yaml") == (3640, 2372, 8225, 5864, 1214)
    path = tmp_path / "cases.yaml"
    path.write_text("12: a hypothesis\n7: {hypothesis: another}\n")
    assert load_cases(path) == {12: "a hypothesis", 7: "another"}
    for text, match in [("10000: x", "not a test-set ID"), ("-1: x", "not a test-set ID"), ("a: x", "not a test-set ID"),
                        ("[1, 2]", "expected a mapping"), ("3: [x]", "needs a hypothesis"), ("3: {", "cannot be read")]:  # fmt: skip
        path.write_text(text)
        with pytest.raises(CasesError, match=match):
            load_cases(path)


@pytest.mark.parametrize(
    "name", ["a\x01b", "case.1\x1b[2J", "a\nb", "a\u202eb", "a b", "1st", "", 7], ids=repr
)
def test_a_claim_name_that_is_not_an_identifier_is_one_line(tmp_path, name):
    path = tmp_path / "claims.yaml"
    path.write_text(json.dumps({"claims": [{"claim": name, "stated": 1}]}))
    with pytest.raises(ClaimsError, match="letters, digits") as err:
        load_claims(path)
    assert str(path) in str(err.value) and not any(c in str(err.value) for c in "\x01\x1b\n\u202e")


def test_a_predicate_name_that_is_not_an_identifier_is_one_line(tmp_path):
    path = tmp_path / "claims.yaml"
    pred = {"name": "p\x01", "text": "a above 1", "all": [["a", ">", 1]]}
    path.write_text(json.dumps({"claims": [{"claim": "a", "stated": 1}], "predicates": [pred]}))
    with pytest.raises(ClaimsError, match=r"predicate 1 is named 'p\\x01'") as err:
        load_claims(path)
    assert "\x01" not in str(err.value)


@pytest.mark.parametrize("n", [MAX_CASES + 1, 60, 200])
def test_more_cases_than_the_figures_have_room_for_is_one_line_stating_the_limit(tmp_path, n):
    path = tmp_path / "cases.yaml"
    path.write_text("".join(f"{i}: case {i}\n" for i in range(n)))
    with pytest.raises(CasesError, match=f"lists {n} cases, over the limit of {MAX_CASES}") as err:
        load_case_ids(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_as_many_cases_as_the_limit_load_and_their_figures_draw(tmp_path):
    from report.figures import study
    from tests.fixtures.make_fixture import fixture_results, make_evals

    path = tmp_path / "cases.yaml"
    path.write_text("".join(f"{i}: case {i}\n" for i in range(MAX_CASES)))
    assert load_case_ids(path) == tuple(range(MAX_CASES))
    results = fixture_results()
    shown = results["tables"]["cases"]
    results["tables"]["cases"] = [shown[i % len(shown)] for i in range(MAX_CASES)]
    evals = make_evals(results)
    for draw in (study.failure_cases, study.gradcam_failures, study.gradcam_compare):
        draw(results, evals)


@pytest.mark.parametrize("field", ["hypothesis", "gradcam", "lesson"])
def test_a_case_text_over_its_limit_is_one_line(tmp_path, field):
    path = tmp_path / "cases.yaml"
    path.write_text(f"7: {{{field}: {'x' * (MAX_TEXT + 1)}}}\n")
    with pytest.raises(CasesError, match=f"case 7's {field} is {MAX_TEXT + 1:,} characters, over the limit"):
        load_cases(path)
