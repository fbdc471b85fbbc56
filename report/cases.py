"""The failure cases the report shows, and the study's human hypothesis for each (assets/cases.yaml).

The file maps a test-set ID (official order, 0–9999) to the hypothesis, either as a string or as
{hypothesis: ...}. Its IDs are the analysis's case IDs, so editing it re-analyses and re-renders
without re-evaluating.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.errors import StudyError

TEST_IMAGES = 10_000


class CasesError(StudyError, ValueError):
    """cases.yaml cannot be used; the message names the file and the entry."""


def _hypothesis(entry) -> str:
    return entry if isinstance(entry, str) else (entry or {}).get("hypothesis", "")


def load_cases(path: Path) -> dict[int, str]:
    """{test ID: hypothesis} in the file's order; refuses IDs outside 0–9999 and malformed entries."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CasesError(
            f"{path} cannot be read as YAML ({str(exc).splitlines()[0]}): fix the file"
        ) from None
    if not isinstance(doc, dict) or not doc:
        raise CasesError(f"{path}: expected a mapping of test IDs to hypotheses: fix the file's structure")
    cases = {}
    for key, entry in doc.items():
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < TEST_IMAGES:
            raise CasesError(
                f"{path}: case ID {key!r} is not a test-set ID: use an integer from 0 to {TEST_IMAGES - 1}"
            )
        if not isinstance(entry, str | dict | None) or not isinstance(_hypothesis(entry), str):
            raise CasesError(f"{path}: case {key} needs a hypothesis text or {{hypothesis: ...}}")
        cases[key] = _hypothesis(entry)
    return cases


def load_case_ids(path: Path) -> tuple[int, ...]:
    return tuple(load_cases(path))
