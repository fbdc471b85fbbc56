"""The gate end to end on a copy of the project: a change in the analysis code fails
`check --against frozen` (exit 1, naming what moved); the unchanged code passes with every row exact;
`diff` against HEAD's frozen numbers does the same; setup errors exit 2."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# A regression injected into the analysis: every model's test accuracy half a point too high.
INJECTED = 'f"{m}.test_accuracy": claim(pct(right.mean()) + 0.5, "percent")'


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


# ----------------------------------------------------------------------------- diff REV: reading git


def _repo(root: Path, files: dict[str, bytes]) -> Path:
    """A git checkout at `root` with one commit holding `files` (paths relative to it)."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    root.mkdir()
    for name, data in {"README": b"x\n", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "frozen"], cwd=root, check=True)
    return root


def _diff_in(root: Path, monkeypatch, capsys, rev: str = "HEAD") -> tuple[int, str]:
    import build
    from commands import workspace

    monkeypatch.setattr(workspace, "ROOT", root)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(root.parent))  # no checkout above it is found
    code = build.main(["diff", rev, "--profile", "smoke"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("committed", "why"),
    [
        (b'{"claims": "\xff\xfe"}', "results.json is not readable JSON ('utf-8' codec can't decode"),
        (b"[" * 5_000 + b"]" * 5_000, "results.json is not readable JSON (nested deeper than 32 levels)"),
        (b'{"claims": {"a": {"value": NaN}}}', "results.json is not readable JSON (NaN is not a number"),
    ],
    ids=["not-utf8", "deep", "nan"],
)
def test_diff_of_an_unreadable_results_json_at_a_revision_exits_2_naming_it(
    tmp_path, monkeypatch, capsys, committed, why
):
    root = _repo(tmp_path / "repo", {"report/frozen/smoke/results.json": committed})
    code, err = _diff_in(root, monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("build.py: error: report/frozen/smoke/ at HEAD: ") and why in err


def test_diff_without_git_installed_says_so_and_exits_2(tmp_path, monkeypatch, capsys):
    root = _repo(tmp_path / "repo", {})
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    code, err = _diff_in(root, monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("build.py: error: git is not installed:") and "diff OLD NEW" in err


def test_diff_outside_a_git_checkout_says_so_and_exits_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "copy").mkdir()
    code, err = _diff_in(tmp_path / "copy", monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 1
    assert f"{tmp_path / 'copy'} is not a git checkout" in err and "diff OLD NEW" in err


def test_diff_tells_an_unknown_revision_from_one_without_frozen_numbers(tmp_path, monkeypatch, capsys):
    root = _repo(tmp_path / "repo", {})
    code, err = _diff_in(root, monkeypatch, capsys, rev="no-such-branch")
    assert code == 2 and "unknown revision 'no-such-branch'" in err
    code, err = _diff_in(root, monkeypatch, capsys, rev="HEAD")
    assert code == 2 and "no frozen numbers of profile smoke at revision 'HEAD'" in err


def test_junit_and_markdown_are_written_into_a_fifo_and_dev_null_and_through_a_link(project, tmp_path):
    """Renaming a new file over them would replace a device, a FIFO or a link with a regular file."""
    fifo, link, target = tmp_path / "junit.fifo", tmp_path / "summary.md", tmp_path / "kept" / "summary.md"
    os.mkfifo(fifo)
    target.parent.mkdir()
    target.write_text("old")
    link.symlink_to(target)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there before the check opens it
    keep = os.open(fifo, os.O_WRONLY)  # so that it sees end-of-file only once the test closes it
    os.set_blocking(reader, True)
    got: list[bytes] = []

    def read():
        with open(reader, "rb") as f:
            got.append(f.read())

    thread = threading.Thread(target=read)
    thread.start()
    for junit, markdown in ((fifo, link), ("/dev/null", "/dev/null")):
        files = ["--junit", str(junit), "--markdown", str(markdown)]
        done = _run(project, "check", "--profile", "smoke", "--against", "frozen", *files)
        assert done.returncode == 0 and not done.stderr, done.stderr
    os.close(keep)
    thread.join(10)
    assert got and got[0].startswith(b"<?xml") and b"<testsuite" in got[0]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert link.is_symlink() and target.read_text().startswith("#")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["junit.fifo", "kept", "summary.md", "summary.md"]
