"""OutputError: an output that cannot be written, as one line naming it and the fix.

The atomic writers (pipeline/files.py) turn what the system says when a write fails for want of
room or permission (a full disk, a quota, a file size limit, a read-only or foreign folder) into
one; an error of any other kind is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import StudyError


class OutputError(StudyError, OSError):
    """An output folder cannot be written; the message names it and the fix."""


ELSEWHERE = "choose another --out"  # the other way out for the build's outputs; "" where there is none
FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # only writing fails so: whatever file it names, an output
REFUSED = (errno.EROFS, errno.EACCES, errno.EPERM)  # reading fails so too: an output's only if it names one
_REASONS = {
    errno.ENOSPC: ("no space left on device", "free space"),
    errno.EDQUOT: ("disk quota exceeded", "free space"),
    errno.EFBIG: ("file size limit exceeded", "raise the limit (ulimit -f)"),
    errno.EROFS: ("read-only file system", "make it writable"),
    errno.EACCES: ("permission denied", "make {folder} writable"),
    errno.EPERM: ("operation not permitted", "make {folder} writable"),
}


def write_failed(path: Path, exc: OSError, elsewhere: str = ELSEWHERE) -> OutputError:
    """One line for an OSError met writing the output `path`: what happened, and the fix (or `elsewhere`)."""
    path = Path(path)
    reason, fix = _REASONS.get(exc.errno, (None, ""))
    if reason is None:
        message = f"cannot write {path} ({exc.strerror or type(exc).__name__}): make {path.parent} a writable folder"
    else:
        message = f"{reason} writing {path}: {fix.format(folder=path.parent)}"
    message += f" or {elsewhere}" if elsewhere else ""
    error = OutputError(message)
    error.errno, error.written = exc.errno, path  # so that an atomic_dir around it names its output
    return error


@contextlib.contextmanager
def failures_named(path: Path, tmp: Path, elsewhere: str = ELSEWHERE) -> Iterator[None]:
    """Turn an OSError of writing `tmp`, the temporary of the output `path`, into one line naming
    `path` (and the file within it, for a folder); every other error passes unchanged."""
    try:
        yield
    except OSError as exc:
        within = _within(exc, tmp)
        if within is None and isinstance(exc, OutputError):
            raise  # one line already, about another output
        if exc.errno in FULL or (exc.errno in REFUSED and within is not None):
            raise write_failed(path if within is None else path / within, exc, elsewhere) from None
        raise


def _within(exc: OSError, tmp: Path) -> Path | None:
    """Where inside `tmp` the error happened, as it names it; None where it names no place inside.
    A failed copy names its source first (shutil.copyfile), so the second name counts too."""
    for named in (getattr(exc, "written", None), exc.filename, exc.filename2):
        if isinstance(named, (str, bytes, os.PathLike)):
            with contextlib.suppress(ValueError):
                return Path(os.fsdecode(named)).relative_to(tmp)
    return None
