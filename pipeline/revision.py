"""Files as committed at a git revision (`build.py diff REV`), with git's failures told apart.

git answers every failure with one exit status, so each cause is asked about in turn: is git
there, is the folder a checkout, does the revision name a commit, does the commit hold the file.
Contents come back as bytes: a committed file need not be UTF-8, and its reader decides.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.errors import StudyError

TWO_FOLDERS = "or give two output folders: diff OLD NEW"


class RevisionError(StudyError, ValueError):
    """A revision or checkout that `diff` cannot read; the message names it and the fix."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    except OSError as exc:  # FileNotFoundError: no git on the PATH
        why = (
            "git is not installed: diff REV reads the frozen numbers from git; install it,"
            if isinstance(exc, FileNotFoundError)
            else f"git cannot be run ({exc.strerror}):"
        )
        raise RevisionError(f"{why} {TWO_FOLDERS}") from None


def commit_of(root: Path, rev: str) -> str:
    """The commit `rev` names in the checkout at `root`, or RevisionError saying which part is missing."""
    if rev.startswith("-"):  # git would read it as an option (--output=FILE writes a file)
        raise RevisionError(f"diff: {rev!r} is not a revision: name a commit, branch or tag")
    if _git(root, "rev-parse", "--git-dir").returncode != 0:
        raise RevisionError(f"{root} is not a git checkout: diff needs one, {TWO_FOLDERS}")
    done = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if done.returncode != 0:
        raise RevisionError(f"diff: unknown revision {rev!r}: name a commit, branch or tag of {root}")
    return done.stdout.decode("ascii").strip()


def file_at(root: Path, commit: str, path: str) -> bytes | None:
    """The bytes of `path` (relative to `root`) as committed in `commit`, or None where it has none."""
    done = _git(root, "cat-file", "blob", f"{commit}:./{path}")
    return done.stdout if done.returncode == 0 else None
