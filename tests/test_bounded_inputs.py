"""Every JSON and YAML file the build reads from outside is bounded where it enters: deep nesting,
long integers, NaN and infinities, lists as keys and expanding aliases are each one line naming the
file, never a RecursionError or another traceback; `check` gives them exit status 2, not 1."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest

import build
from commands import workspace
from pipeline import provenance
from pipeline.errors import StudyError
from pipeline.evalfile import load_eval
from pipeline.files import MARKER, OutputError, claim_folder
from pipeline.gpujob.jobarchive import ArchiveError, read_archive
from pipeline.gpujob.pack import tar_bytes
from pipeline.historyfile import load_history
from pipeline.stages import Stage
from report.assets import ReportMetaError, load_references, load_report_meta
from report.cases import CasesError, read_cases
from report.claims import ClaimsError, load_claims, load_results, validate_results
from report.gate import load_tolerances
from report.publish import load_checks

ROOT = Path(__file__).resolve().parents[1]
FROZEN = ROOT / "report" / "frozen" / "smoke"
DEEP_JSON = "[" * 5_000 + "]" * 5_000  # json.loads: RecursionError
DEEP_YAML = "a: " + "[" * 5_000 + "]" * 5_000 + "\n"  # PyYAML's composer: RecursionError
REPORT_YAML = "title: t\nsubtitle: s\nstudy: s\nsubject: s\nauthors: [a]\nkeywords: []\n"
LAUGHS = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 10)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)  # 10^9 values once expanded


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _one_line(err: pytest.ExceptionInfo, path: Path) -> str:
    message = str(err.value)
    assert "\n" not in message and str(path) in message, message
    return message


# ----------------------------------------------------------------------------- JSON


@pytest.mark.parametrize(
    ("name", "loader"),
    [
        ("history.json", load_history),
        ("results.json", load_results),
        ("tolerances.json", load_tolerances),
        ("checks.json", load_checks),
    ],
)
def test_deeply_nested_json_is_one_line_naming_the_file(tmp_path, name, loader):
    path = _write(tmp_path, name, DEEP_JSON)
    with pytest.raises(StudyError) as err:
        loader(path)
    _one_line(err, path)


def test_a_deeply_nested_archive_manifest_is_one_line(tmp_path):
    path = _write(tmp_path, "results-smoke.tar", tar_bytes([("manifest.json", DEEP_JSON.encode())]))
    with pytest.raises(ArchiveError, match="manifest.json is not JSON") as err:
        read_archive(path)
    _one_line(err, path)


def test_a_deeply_nested_output_marker_is_refused_as_another_folder(tmp_path):
    _write(tmp_path, MARKER, '{"profile": ' + DEEP_JSON + "}")
    with pytest.raises(OutputError) as err:
        claim_folder(tmp_path, "smoke")
    _one_line(err, tmp_path)


def test_a_deeply_nested_stage_key_is_no_key_so_the_stage_runs(tmp_path):
    stage = Stage("demo", _write(tmp_path, "demo.json", DEEP_JSON), [tmp_path / "out.txt"])
    assert stage.stored() is None


def test_a_deeply_nested_bundle_source_is_an_unknown_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "SOURCE", _write(tmp_path, "SOURCE.json", DEEP_JSON))
    assert provenance.git_state() == ("unknown", None)


def test_a_deeply_nested_provenance_in_eval_npz_is_one_line(tmp_path):
    with np.load(io.BytesIO((FROZEN / "baseline" / "eval.npz").read_bytes()), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["provenance"] = np.array(DEEP_JSON)
    path = tmp_path / "eval.npz"
    np.savez(path, **arrays)
    with pytest.raises(StudyError, match="provenance") as err:
        load_eval(path)
    _one_line(err, path)


@pytest.mark.parametrize(
    "value",
    ["NaN", "Infinity", "-Infinity", "1e4000", "1" + "0" * 4000],
    ids=["nan", "inf", "-inf", "1e4000", "10^4000"],
)
def test_a_claim_value_out_of_float_range_is_refused_at_load(tmp_path, value):
    text = '{"profile": "smoke", "claims": {"baseline.wrong": {"value": ' + value + ', "unit": "count"}}}'
    path = _write(tmp_path, "results.json", text)
    with pytest.raises(ClaimsError) as err:
        load_results(path)
    _one_line(err, path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 10**400], ids=["nan", "inf", "10^400"])
def test_a_results_document_with_a_non_finite_claim_names_the_claim(value):
    doc = {"claims": {"baseline.wrong": {"value": value, "unit": "count"}}}
    with pytest.raises(ClaimsError, match="claim baseline.wrong has value .*not a finite number") as err:
        validate_results(doc, "results.json")
    assert "\n" not in str(err.value)


def test_a_history_with_a_nan_loss_still_names_the_field(tmp_path):
    row = '{"epoch": 1, "train_loss": NaN, "train_acc": 0.1, "val_loss": 1, "val_acc": 0.1, "lr": 0.1}'
    with pytest.raises(StudyError, match=r"epochs\[0\].train_loss is nan"):
        load_history(_write(tmp_path, "history.json", '{"epochs": [' + row + "]}"))


# ----------------------------------------------------------------------------- YAML


@pytest.mark.parametrize(
    ("name", "loader", "error"),
    [
        ("claims.yaml", load_claims, ClaimsError),
        ("cases.yaml", read_cases, CasesError),
        ("report.yaml", load_report_meta, ReportMetaError),
        ("references.yaml", load_references, ReportMetaError),
    ],
)
@pytest.mark.parametrize(
    ("text", "why"),
    [
        (DEEP_YAML, "line 1: nested deeper than 32 levels"),
        ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 400)), "nested deeper than 32 levels"),
        (LAUGHS, "line 5: more than 100,000 values"),
        ("a: &a [*a]\n", "line 1: an alias refers to the value that holds it"),
        ("a: &a " + "[" * 30 + "]" * 30 + "\nb: [[[[[*a]]]]]\n", "line 2: its aliases nest deeper than 32"),
        ("a: " + "7" * 5_000 + "\n", "line 1: an integer of 5000 digits"),
        ("a: 0x" + "f" * 400 + "\n", "an integer of 402 digits"),
        ("? [a, b]\n: 1\n", "line 1: a key is a list, not a text or a number"),
        ("x: 1\n? {a: 1}\n: 1\n", "line 2: a key is a mapping, not a text or a number"),
    ],
    ids=["deep-flow", "deep-block", "billion-laughs", "self-alias", "alias-depth", "long-int", "long-hex",
         "list-key", "mapping-key"],
)  # fmt: skip
def test_unbounded_yaml_is_one_line_naming_the_file_and_line(tmp_path, name, loader, error, text, why):
    path = _write(tmp_path, name, text)
    with pytest.raises(error, match=why) as err:
        loader(path)
    _one_line(err, path)


def test_a_400_digit_stated_value_is_refused_at_load(tmp_path):
    text = "claims:\n  - claim: baseline.wrong\n    stated: " + "9" * 400 + "\n"
    _claims_refused(tmp_path, text, "line 3: an integer of 400 digits")


@pytest.mark.parametrize("stated", [".inf", "-.inf", ".nan", "1.0e+400"])
def test_a_non_finite_stated_value_names_the_claim(tmp_path, stated):
    path = _write(tmp_path, "claims.yaml", f"claims: [{{claim: baseline.wrong, stated: {stated}}}]\n")
    with pytest.raises(ClaimsError, match="claim baseline.wrong states .*not a finite number") as err:
        load_claims(path)
    _one_line(err, path)


def _claims_refused(tmp_path, text: str, match: str) -> None:
    """claims.yaml holding `text` is refused in one line naming the file, matching `match`."""
    path = _write(tmp_path, "claims.yaml", text)
    with pytest.raises(ClaimsError, match=match) as err:
        load_claims(path)
    _one_line(err, path)


@pytest.mark.parametrize("where", ["[a, b]", "{a: 1}", "5", "null"])
def test_a_where_that_is_not_a_text_names_the_claim(tmp_path, where):
    text = f"claims: [{{claim: baseline.wrong, stated: 1, where: {where}}}]\n"
    _claims_refused(tmp_path, text, "claim baseline.wrong has 'where'")


@pytest.mark.parametrize("condition", ["[a, [x], 1]", "[a, '<', .nan]", "[.inf, '<', a]"])
def test_a_predicate_with_an_unhashable_op_or_a_non_finite_number_is_one_line(tmp_path, condition):
    text = f"claims: []\npredicates: [{{name: p, text: t, all: [{condition}]}}]\n"
    _claims_refused(tmp_path, text, "predicate 1 needs 'all'")


def test_report_yaml_with_number_and_text_keys_names_an_unknown_field(tmp_path):
    path = _write(tmp_path, "report.yaml", REPORT_YAML + "7: x\nz: y\n")
    with pytest.raises(ReportMetaError, match="unknown field 7") as err:
        load_report_meta(path)
    _one_line(err, path)


def test_yaml_aliases_within_the_bounds_still_load(tmp_path):
    path = _write(tmp_path, "cases.yaml", "3640: &h {hypothesis: sky}\n2372: *h\n")
    assert read_cases(path) == {3640: {"hypothesis": "sky"}, 2372: {"hypothesis": "sky"}}


# ----------------------------------------------------------------------------- build.py check


def _check(tmp_path: Path, capsys, *extra: str) -> tuple[int, str]:
    code = build.main(["check", "--profile", "smoke", "--out", str(tmp_path / "out"), *extra])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "results",
    [DEEP_JSON, '{"profile": "smoke", "claims": {"a": {"value": NaN}}}', '{"profile": "smoke", "claims": {"a": {"value": 1e4000}}}'],
    ids=["deep", "nan", "1e4000"],
)  # fmt: skip
def test_check_on_an_unbounded_results_json_exits_2_with_one_line(tmp_path, capsys, results):
    (tmp_path / "out").mkdir()
    path = _write(tmp_path / "out", "results.json", results)
    code, err = _check(tmp_path, capsys, "--json")
    assert code == 2 and err.startswith("build.py: error:") and err.count("\n") == 1 and str(path) in err


@pytest.mark.parametrize(
    "claims",
    [DEEP_YAML, "claims: [{claim: baseline.wrong, stated: 1, where: [a]}]\n", "? [a, b]\n: 1\n"],
    ids=["deep", "where-list", "list-key"],
)
def test_check_on_an_unbounded_claims_yaml_exits_2_with_one_line(tmp_path, capsys, monkeypatch, claims):
    (tmp_path / "out").mkdir()
    shutil.copy(FROZEN / "results.json", tmp_path / "out" / "results.json")
    monkeypatch.setattr(workspace, "CLAIMS", _write(tmp_path, "claims.yaml", claims))
    code, err = _check(tmp_path, capsys, "--json")
    assert code == 2 and err.startswith("build.py: error:") and err.count("\n") == 1
    assert str(tmp_path / "claims.yaml") in err
