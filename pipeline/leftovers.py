"""The names of the build's temporary files and folders, and removing those a killed build left.

Every temporary an atomic writer makes beside an output is named .<name>.<random>.build-tmp, the
random part as tempfile draws it (8 of a-z, 0-9 and _). Only that exact form is ever removed, so a
user's .site.backup or .report.pdf.v1 beside the outputs is left alone.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

TEMP_SUFFIX = ".build-tmp"
_RANDOM = "[a-z0-9_]{8}"  # tempfile's alphabet and length (CPython Lib/tempfile.py, _RandomNameSequence)


def temp_file(folder: Path, name: str) -> tuple[int, str]:
    """A new empty temporary file beside the output `name` in `folder`: (open descriptor, path)."""
    return tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=TEMP_SUFFIX)


def temp_dir(folder: Path, name: str) -> Path:
    """A new empty temporary folder beside the output `name` in `folder`."""
    return Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}.", suffix=TEMP_SUFFIX))


def is_temp_of(entry: str, name: str) -> bool:
    """Whether a file name is one of the build's temporaries for the output `name`."""
    return re.fullmatch(rf"\.{re.escape(name)}\.{_RANDOM}{re.escape(TEMP_SUFFIX)}", entry) is not None


def clean_leftovers(folder: Path, names: Iterable[str]) -> list[Path]:
    """Remove the temporaries a killed build left beside the outputs `names` in `folder`.

    Call it only while holding the folder's folder_lock: a build running meanwhile would lose
    the temporaries it is still writing.
    """
    folder, names = Path(folder), list(names)
    if not folder.is_dir():
        return []
    removed = []
    for leftover in sorted(folder.iterdir()):
        if not any(is_temp_of(leftover.name, name) for name in names):
            continue
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed
