"""The failure cases the report shows, and the study's human hypothesis for each (assets/cases.yaml).

The file maps a test-set ID (official order, 0–9999) to the hypothesis, either as a string or as
{hypothesis: ...}. Its IDs are the analysis's case IDs, so editing it re-analyses and re-renders
without re-evaluating.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import StudyError
from report.yamlfile import load_yaml

TEST_IMAGES = 10_000
FIELDS = ("hypothesis", "gradcam", "lesson")  # what report/context.py reads of an entry
# Figures 2 and 3 show every case as a panel in one row of the text width (report/figures/study.py): at
# 10 cases a Grad-CAM panel is 0.42 in (11 mm) wide, and from 41 on there is no room for them at all.
MAX_CASES = 10
MAX_TEXT = 1000  # characters of one field, printed in a table cell; the study's longest is under 300


class CasesError(StudyError, ValueError):
    """cases.yaml cannot be used; the message names the file and the entry."""


def read_cases(path: Path) -> dict[int, dict]:
    """{test ID: entry} in the file's order, each entry a dict (a bare string is its hypothesis).

    Refuses IDs outside 0–9999, entries that are neither text nor a mapping with text values, more
    than MAX_CASES cases and a text longer than MAX_TEXT.
    """
    doc = load_yaml(path, CasesError)
    if not isinstance(doc, dict) or not doc:
        raise CasesError(f"{path}: expected a mapping of test IDs to hypotheses: fix the file's structure")
    if len(doc) > MAX_CASES:
        raise CasesError(
            f"{path} lists {len(doc)} cases, over the limit of {MAX_CASES} the figures have room for: "
            "keep the ones the report discusses"
        )
    cases = {}
    for key, entry in doc.items():
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < TEST_IMAGES:
            raise CasesError(
                f"{path}: case ID {key!r} is not a test-set ID: use an integer from 0 to {TEST_IMAGES - 1}"
            )
        entry = {"hypothesis": entry} if isinstance(entry, str) else entry or {}
        if not isinstance(entry, dict) or not all(isinstance(v, str | None) for v in entry.values()):
            raise CasesError(f"{path}: case {key} needs a hypothesis text or {{hypothesis: ...}}")
        unknown = sorted(str(k) for k in entry if k not in FIELDS)
        if unknown:
            raise CasesError(
                f"{path}: case {key} has unknown field {unknown[0]!r}: use only {', '.join(FIELDS)}"
            )
        long = next((k for k, v in entry.items() if v and len(v) > MAX_TEXT), None)
        if long is not None:
            raise CasesError(
                f"{path}: case {key}'s {long} is {len(entry[long]):,} characters, over the limit of "
                f"{MAX_TEXT}: shorten it"
            )
        cases[key] = entry
    return cases


def load_case_ids(path: Path) -> tuple[int, ...]:
    return tuple(read_cases(path))
