"""The command line as a whole: exit statuses, argument order, empty paths and a closed pipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import build
from commands import workspace

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def nowhere(tmp_path, monkeypatch) -> Path:
    """runs/ and frozen/ in a temporary folder, so that no command can touch the checkout's."""
    monkeypatch.setattr(workspace, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(workspace, "FROZEN", tmp_path / "frozen")
    return tmp_path


def _commands(tmp: Path) -> dict[str, list[str]]:
    """One input or setup error per command."""
    (tmp / "a-file").write_text("not a folder")
    (tmp / "empty").mkdir()
    return {
        "build": ["--profile", "smoke", "--out", str(tmp / "a-file")],
        "freeze": ["freeze", "--profile", "smoke", "--out", str(tmp / "empty")],
        "check": ["check", "--profile", "smoke", "--out", str(tmp / "empty")],
        "diff": ["diff", str(tmp / "empty"), str(tmp / "empty"), "--profile", "smoke"],
        "serve": ["serve", "--profile", "smoke", "--port", "99999", "--out", str(tmp / "empty")],
        "bundle": [
            "bundle",
            "--profile",
            "smoke",
            "--data-dir",
            str(tmp / "none"),
            "--out",
            str(tmp / "job"),
        ],
        "import": ["import", str(tmp / "missing.tar"), "--profile", "smoke"],
    }


@pytest.mark.parametrize("command", ["build", "freeze", "check", "diff", "serve", "bundle", "import"])
def test_every_command_exits_2_with_one_line_on_an_input_error(nowhere, capsys, command):
    assert build.main(_commands(nowhere)[command]) == 2
    err = capsys.readouterr().err
    assert err.startswith("build.py: error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize(
    "argv",
    [
        ["diff", "--profile", "smoke", "HEAD~1"],
        ["--profile", "smoke", "diff", "HEAD~1"],
        ["import", "--profile", "smoke", "a.tar", "--dry-run"],
    ],
)
def test_options_and_positionals_go_in_any_order(argv):
    args = build.parse_args(argv)
    assert args.profile == "smoke" and args.command in ("diff", "import") and len(args.targets) == 1


@pytest.mark.parametrize("option", ["--junit", "--markdown", "--out", "--data-dir"])
def test_an_empty_path_is_refused_not_ignored(capsys, option):
    with pytest.raises(SystemExit) as stop:
        build.parse_args(["check", "--profile", "smoke", option, ""])
    assert stop.value.code == 2 and f"{option} needs a path" in capsys.readouterr().err


def test_a_closed_pipe_ends_the_build_quietly(tmp_path):
    """`build.py --profile smoke | head -1`: the reader goes after one line."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "--profile", "smoke", "--no-pdf", "--out", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert first and err == ""
