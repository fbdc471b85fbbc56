"""The gate end to end on a copy of the project: a change in the analysis code fails
`check --against frozen` (exit 1, naming what moved); the unchanged code passes with every row exact;
`diff` against HEAD's frozen numbers does the same; setup errors exit 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INJECTED = 'f"{m}.test_accuracy": claim(pct(right.mean()) + 0.5, "percent")'  # issue 11's regression


def _run(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "build.py", *args], cwd=project, capture_output=True, text=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project with its committed smoke results, built once from them."""
    dest = tmp_path_factory.mktemp("copy") / "project"
    ignore = shutil.ignore_patterns(
        ".venv", "runs", "out", ".git", "__pycache__", "*_cache", "*.egg-info", "cpu-study"
    )
    shutil.copytree(ROOT, dest, ignore=ignore)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=dest, check=True)
    done = _run(dest, "--profile", "smoke", "--no-pdf")
    assert done.returncode == 0, done.stderr
    return dest


def test_the_same_inputs_pass_with_every_row_exact(project):
    done = _run(project, "check", "--profile", "smoke", "--against", "frozen", "--json")
    assert done.returncode == 0, done.stdout[-2000:]
    rows = json.loads(done.stdout)["rows"]
    assert rows and {r["mode"] for r in rows} == {"exact"} and {r["verdict"] for r in rows} == {"pass"}


def test_a_changed_analysis_fails_the_check_and_names_what_moved(project, tmp_path):
    mutant = tmp_path / "mutant"
    shutil.copytree(project, mutant, ignore=shutil.ignore_patterns("out"))
    analysis = mutant / "pipeline" / "analysis.py"
    original = 'f"{m}.test_accuracy": claim(pct(right.mean()), "percent")'
    assert original in analysis.read_text()
    analysis.write_text(analysis.read_text().replace(original, INJECTED))
    assert _run(mutant, "--profile", "smoke", "--no-pdf").returncode == 0
    done = _run(
        mutant, "check", "--profile", "smoke", "--against", "frozen", "--markdown", str(tmp_path / "s.md")
    )
    assert done.returncode == 1
    named = " ".join(line for line in done.stdout.splitlines() if line.startswith("FAIL"))
    assert "baseline.test_accuracy" in named and "cutmix.test_accuracy" in named
    assert "baseline.test_accuracy" in (tmp_path / "s.md").read_text()
    done = _run(mutant, "diff", "HEAD", "--profile", "smoke", "--json")  # dvc metrics diff's way
    assert done.returncode == 1
    failed = {r["claim"] for r in json.loads(done.stdout)["rows"] if r["verdict"] == "fail"}
    assert {"baseline.test_accuracy", "cutmix.test_accuracy"} <= failed


def test_setup_errors_exit_2(project, tmp_path):
    done = _run(project, "check", "--profile", "smoke", "--out", str(tmp_path / "nothing"))
    assert done.returncode == 2 and done.stderr.startswith("build.py: error:")
    done = _run(project, "check", "--profile", "no-such")
    assert done.returncode == 2 and "unknown profile" in done.stderr
    done = _run(project, "diff", "a", "b", "c", "--profile", "smoke")
    assert done.returncode == 2
    done = _run(project, "diff", "no-such-revision", "--profile", "smoke")
    assert done.returncode == 2 and "no-such-revision" in done.stderr
    done = _run(project, "diff", "--profile", "smoke", "--", f"--output={tmp_path / 'written'}")
    assert done.returncode == 2 and not (tmp_path / "written").exists()
