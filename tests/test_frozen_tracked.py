"""Every file a committed frozen profile reads is one git tracks: an ignore rule that matched a
frozen folder would leave a clone with results.json pointing at files it never received."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from pipeline.project import ROOT

FROZEN = ROOT / "report" / "frozen"


def recorded_paths(results: dict) -> list[str]:
    """The eval and history paths results.json records, for the primary pair and the grid's runs."""
    groups = [results.get("files") or {}, results.get("run_files") or {}]
    return sorted(
        str(kinds[kind]) for group in groups for kinds in group.values() for kind in ("eval", "history")
    )


NEEDS_GIT = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git and a git checkout"
)


@NEEDS_GIT
@pytest.mark.parametrize("results_json", sorted(FROZEN.glob("*/results.json")), ids=lambda p: p.parent.name)
def test_every_file_a_frozen_profile_records_is_tracked_by_git(results_json):
    paths = recorded_paths(json.loads(results_json.read_text()))
    assert paths, f"{results_json} records no files"
    found = subprocess.run(
        ["git", "ls-files", "--", *paths], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert sorted(found.stdout.split()) == paths


@NEEDS_GIT
def test_the_ignore_rules_leave_a_frozen_profiles_runs_tracked():
    """The checkout's runs/ is ignored (it holds checkpoints); a frozen profile's runs/ is not."""
    probe = "report/frozen/cpu-study/runs/baseline-seed43/predictions.npz"
    ignored = subprocess.run(["git", "check-ignore", "-q", probe], cwd=ROOT)
    assert ignored.returncode == 1, f"{probe} is ignored by .gitignore"
    checkpoint = "runs/cpu-study/baseline-seed43/checkpoint.pt"
    assert subprocess.run(["git", "check-ignore", "-q", checkpoint], cwd=ROOT).returncode == 0
