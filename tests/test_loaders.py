"""Every input file is validated at the boundary, in one place per kind: arbitrary bytes and arbitrary
mutations of a valid file give a valid load or one StudyError, never another exception (hypothesis);
and the hand edits that used to pass silently or end in a traceback are each one clear line."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pipeline import data
from pipeline.errors import StudyError
from pipeline.evalfile import load_eval
from pipeline.gpujob.jobarchive import read_archive
from pipeline.historyfile import load_history
from report.assets import load_references, load_report_meta
from report.cases import CasesError, read_cases
from report.claims import ClaimsError, check_published, load_claims, load_results
from report.gate import load_tolerances
from report.publish import load_checks

ROOT = Path(__file__).resolve().parents[1]
FROZEN = ROOT / "report" / "frozen" / "smoke"
VALID = {
    "claims.yaml": (ROOT / "report" / "claims.yaml").read_bytes(),
    "cases.yaml": (ROOT / "assets" / "cases.yaml").read_bytes(),
    "history.json": (FROZEN / "baseline" / "history.json").read_bytes(),
    "results.json": (FROZEN / "results.json").read_bytes(),
    "eval.npz": (FROZEN / "baseline" / "eval.npz").read_bytes(),
    "report.yaml": (ROOT / "assets" / "report.yaml").read_bytes(),
    "references.yaml": (ROOT / "assets" / "references.yaml").read_bytes(),
    "tolerances.json": (FROZEN / "tolerances.json").read_bytes(),
}
LOADERS = {
    "claims.yaml": load_claims,
    "cases.yaml": read_cases,
    "history.json": load_history,
    "results.json": load_results,
    "eval.npz": load_eval,
    "tolerances.json": load_tolerances,
    "train": data.read_verified,
    "report.yaml": load_report_meta,
    "references.yaml": load_references,
    "checks.json": load_checks,
    "results.tar": read_archive,
}


def _load(tmp_path: Path, name: str, raw: bytes):
    path = tmp_path / name
    path.write_bytes(raw)
    try:
        LOADERS[name](path)
    except StudyError as err:
        assert "\n" not in str(err) and str(path) in str(err), str(err)


def _eval_with_ids_header(header: bytes) -> bytes:
    """The valid eval.npz with the .npy header of test_ids replaced by this text, padded as numpy pads."""
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(VALID["eval.npz"])) as valid, zipfile.ZipFile(out, "w") as changed:
        for name in valid.namelist():
            member = valid.read(name)
            if name == "test_ids.npy":  # its header is 128 bytes, then 500 int64
                member = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + member[128:]
            changed.writestr(name, member)
    return out.getvalue()


# Not a Python literal, so numpy retries the header with its tokenizer, which raises TokenError.
UNCLOSED_HEADER_EVAL = _eval_with_ids_header(b"{'descr': '<i8', 'fortran_order': False, 'shape': (3,")


@pytest.mark.parametrize("name", sorted(LOADERS))
@given(raw=st.binary(max_size=2_000))
@example(raw=UNCLOSED_HEADER_EVAL)
def test_arbitrary_bytes_load_or_are_one_study_error(tmp_path, name, raw):
    _load(tmp_path, name, raw)


# One edit of a file: (kind, where, bytes); `where` is taken modulo the file's length, so that an
# edit is plain data that an @example can pin.
EDITS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "cut", "insert"]), st.integers(0, 2**20), st.binary(min_size=1, max_size=8)
    ),
    min_size=1,
    max_size=4,
)


def mutated(valid: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    """A valid file with a few bytes flipped, cut short, or spliced."""
    raw = bytearray(valid)
    for kind, where, value in edits:
        at = where % max(1, len(raw))
        if kind == "flip" and raw:
            raw[at] = value[0]
        elif kind == "cut":
            raw = raw[:at]
        else:
            raw[at:at] = value
    return bytes(raw)


# Byte 81 of the smoke baseline's eval.npz, in the deflated .npy header of test_ids, made "3": the
# header inflates to text that is not a Python literal, numpy retries it with its tokenizer, and
# that raised tokenize.TokenError through load_eval (found by this test, 2026-12-06).
UNCLOSED_HEADER_FLIP = [("flip", 81, b"3")]


@pytest.mark.parametrize("name", sorted(VALID))
@given(edits=EDITS)
@example(edits=UNCLOSED_HEADER_FLIP)
def test_mutations_of_a_valid_file_load_or_are_one_study_error(tmp_path, name, edits):
    _load(tmp_path, name, mutated(VALID[name], edits))


# ----------------------------------------------------------------------------- the reported cases


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("epochs", "why"),
    [
        (
            '[{"epoch": 1, "train_loss": NaN, "train_acc": 0.1, "val_loss": 1, "val_acc": 0.1, "lr": 0.1}]',
            "train_loss",
        ),
        (
            '[{"epoch": 1, "train_loss": "low", "train_acc": 0.1, "val_loss": 1, "val_acc": 0.1, "lr": 0.1}]',
            "train_loss",
        ),
        ('[{"epoch": 1, "train_acc": 0.1, "val_loss": 1, "val_acc": 0.1, "lr": 0.1}]', "train_loss"),
        ('{"epoch": 1}', "'epochs'"),
    ],
)
def test_a_bad_history_is_one_line_naming_the_field(tmp_path, epochs, why):
    path = _write(tmp_path, "history.json", '{"epochs": ' + epochs + "}")
    with pytest.raises(StudyError, match=why) as err:
        load_history(path)
    assert "--retrain" in str(err.value)


def test_a_corrupt_frozen_file_says_git_checkout(tmp_path):
    frozen = tmp_path / "report" / "frozen" / "smoke" / "baseline"
    frozen.mkdir(parents=True)
    (frozen / "history.json").write_text("{")
    with pytest.raises(StudyError, match="git checkout"):
        load_history(frozen / "history.json")
    (frozen / "eval.npz").write_bytes(b"PK\x03\x04")
    with pytest.raises(StudyError, match="git checkout"):
        load_eval(frozen / "eval.npz")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("claims: []\npredicates: [{all: [[a, '<', 1]]}]\n", "needs a 'name' and a 'text'"),
        ("claims: [{claim: a, stated: 1}]\ndefault_tolerance: [1, 2]\n", "default_tolerance must map"),
        ("claims: [{claim: a, stated: 1, tolerance: '-5%'}]\n", "has tolerance"),
        ("claims: [{claim: a, stated: 1, tolerance: 'nan%'}]\n", "has tolerance"),
        ("claims: [{claim: a, stated: 1, tolerance: 'inf%'}]\n", "has tolerance"),
        ("claims: [{claim: a, stated: 1, tolerance: .inf}]\n", "has tolerance"),
        ("claims: []\n", "the ledger is empty"),
        ("claims: [{claim: a, stated: 1}, {claim: a, stated: 1, tolerance: 1, tolerance: 2}]\n", "repeats"),
    ],
)
def test_claims_yaml_that_used_to_pass_or_crash_is_one_line(tmp_path, text, match):
    with pytest.raises(ClaimsError, match=match):
        load_claims(_write(tmp_path, "claims.yaml", text))


def test_a_string_compared_with_a_number_names_the_predicate():
    claims = {"claims": [], "predicates": [{"name": "p", "text": "t", "all": [["case.1.fixed", ">=", 80]]}]}
    results = {"claims": {"case.1.fixed": {"value": "yes"}}}
    with pytest.raises(ClaimsError, match="predicate p compares case.1.fixed"):
        check_published(results, claims)


def test_invalid_utf8_in_yaml_and_json_is_one_line(tmp_path):
    bad = b"claims: [{claim: \xff, stated: 1}]\n"
    with pytest.raises(ClaimsError, match="not UTF-8"):
        load_claims(tmp_path / "c.yaml" if (tmp_path / "c.yaml").write_bytes(bad) else None)
    with pytest.raises(CasesError, match="not UTF-8"):
        read_cases(tmp_path / "k.yaml" if (tmp_path / "k.yaml").write_bytes(b"3640: \xfe\n") else None)
    (tmp_path / "r.json").write_bytes(b'{"claims": "\xff"}')
    with pytest.raises(ClaimsError, match="unreadable"):
        load_results(tmp_path / "r.json")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("3640: one\n3640: two\n", "repeats the one on line 1"),
        ("3640: {hypothesys: typo}\n", "unknown field 'hypothesys'"),
        ("0o17: octal\n", "not a test-set ID"),  # a string to PyYAML: refused as such
        ("017: octal\n", "not a plain decimal"),
        ("0x1F: hex\n", "not a plain decimal"),
    ],
)
def test_cases_yaml_that_used_to_pass_silently_is_one_line(tmp_path, text, match):
    with pytest.raises(CasesError, match=match):
        read_cases(_write(tmp_path, "cases.yaml", text))


def _eval_arrays() -> dict:
    with np.load(io.BytesIO(VALID["eval.npz"]), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a.update(test_logits=a["test_logits"][:, :50]), "one column per class"),
        (lambda a: a.update(val_labels=a["val_labels"][:-1]), "different lengths"),
        (lambda a: a["test_logits"].__setitem__((0, 0), np.nan), "NaN or infinite"),
        (lambda a: a.update(test_labels=a["test_labels"] + 1000), "outside"),
    ],
)
def test_an_eval_file_whose_arrays_disagree_is_one_line(tmp_path, change, match):
    arrays = _eval_arrays()
    change(arrays)
    np.savez(tmp_path / "eval.npz", **arrays)
    with pytest.raises(StudyError, match=match):
        load_eval(tmp_path / "eval.npz")


def test_a_results_json_of_the_wrong_shape_is_one_line(tmp_path):
    for doc in ([], {"claims": []}, {"claims": {"a": 1}}, {"claims": {}, "identities": {}}):
        (tmp_path / "results.json").write_text(json.dumps(doc))
        with pytest.raises(ClaimsError):
            load_results(tmp_path / "results.json")


def test_a_claim_named_by_a_number_is_one_line(tmp_path):
    with pytest.raises(ClaimsError, match="names its claim 5"):
        load_claims(_write(tmp_path, "claims.yaml", "claims: [{claim: 5, stated: 1}]\n"))


@pytest.mark.parametrize(
    ("text", "match"),
    [("title: [a]\n", "'title' must be a non-empty text"), ("- a\n", "expected a mapping"),
     ("title: t\nsubtitle: s\nstudy: s\nsubject: s\nauthors: a\nkeywords: []\n", "'authors' must be a list"),
     ("title: t\nsubtitle: s\nstudy: s\nsubject: s\nauthors: [a]\nkeywords: []\nauthor: b\n", "unknown field 'author'")],
)  # fmt: skip
def test_report_yaml_is_checked_field_by_field(tmp_path, text, match):
    from report.assets import ReportMetaError, load_report_meta

    with pytest.raises(ReportMetaError, match=match):
        load_report_meta(_write(tmp_path, "report.yaml", text))


def test_references_yaml_is_checked_entry_by_entry(tmp_path):
    from report.assets import ReportMetaError, load_references

    with pytest.raises(ReportMetaError, match="entry 'yun' needs exactly"):
        load_references(_write(tmp_path, "references.yaml", "yun: {cited: Yun et al., 2019}\n"))
