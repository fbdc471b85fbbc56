"""Atomic file writes: a temporary file in the same folder, then a rename.

An interrupted build (Ctrl-C, a crash, a full disk) then leaves either the old file or the new
one, never half of one. Used by every stage that writes; a full disk, a file size limit or a
read-only folder met while writing becomes one line (OutputError) naming the output.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.jsonfile import parse_json
from pipeline.leftovers import temp_dir, temp_file
from pipeline.outputerror import ELSEWHERE, OutputError, failures_named, write_failed


def ensure_writable(folder: Path) -> Path:
    """Create folder if needed and prove it writable, or raise one clear line."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write to {folder} ({exc.strerror}): choose another folder with --out"
        ) from None
    return folder


MARKER = ".made-by-build.py"  # in every output folder the build writes: it owns what it wrote there


def claim_folder(folder: Path, profile: str, adopt: bool = False) -> Path:
    """Make `folder` the build's output folder for `profile`, or refuse in one line.

    A new or empty folder is marked as the build's (MARKER, naming the profile); a marked one of
    the same profile is used again. A non-empty folder without the mark holds someone else's files,
    which the build must not replace, so it is refused; `adopt` (the default out/<profile>, which
    builds before the mark wrote) marks it instead. A folder marked for another profile is refused.
    """
    folder = ensure_writable(Path(folder))
    marker = folder / MARKER
    if marker.exists():
        try:
            made_for = parse_json(marker.read_bytes()).get("profile")
        except (OSError, ValueError, AttributeError):
            made_for = None
        if made_for != profile:
            raise OutputError(
                f"{folder} holds the output of profile {made_for!r}, not {profile!r}: choose another folder with --out"
            )
        return folder
    if any(p.name != MARKER for p in folder.iterdir()) and not adopt:
        raise OutputError(
            f"{folder} is not empty and was not made by build.py: choose a new or empty folder with --out "
            "(the build replaces what it writes there)"
        )
    write_json(marker, {"profile": profile, "made_by": "build.py"})
    return folder


@contextlib.contextmanager
def atomic_path(path: Path, elsewhere: str = ELSEWHERE) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on failure it is removed.

    A failure to write for want of room or permission is one line (write_failed), ending in the
    fix `elsewhere`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file(path.parent, path.name)
    except OSError as exc:
        raise write_failed(path, exc, elsewhere) from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private (0600); outputs get the usual mode
    try:
        with failures_named(path, Path(tmp), elsewhere):
            yield Path(tmp)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise write_failed(path, exc, elsewhere) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: Path, data: bytes, elsewhere: str = ELSEWHERE) -> None:
    with atomic_path(path, elsewhere) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=1, sort_keys=False) + "\n")


RENAME_EXCHANGE = 2  # linux/fs.h: renameat2 swaps the two paths in one step
AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (renameat2 RENAME_EXCHANGE, Linux 3.15+);
    False where the system or the file system cannot, and nothing was done."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    if libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def atomic_dir(path: Path, elsewhere: str = ELSEWHERE) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it takes `path`'s place as a whole.

    At every instant `path` is the complete old folder or the complete new one: the two are
    swapped in one step (exchange), and only where the system cannot do that in two renames, with
    the old one kept aside in a second temporary folder until the new one is in. A kill leaves at
    most temporary folders beside it, which clean_leftovers (pipeline/leftovers.py) removes later.
    A failed write in the folder is one line naming the file in `path`, as atomic_path's.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_dir(path.parent, path.name)
    except OSError as exc:
        raise write_failed(path, exc, elsewhere) from None
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; a published site must be readable
    try:
        with failures_named(path, tmp, elsewhere):
            yield tmp
        try:
            _swap_in(tmp, path)
        except OSError as exc:
            raise write_failed(path, exc, elsewhere) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def scratch_dir(folder: Path, name: str, elsewhere: str = ELSEWHERE) -> Iterator[Path]:
    """Yield a temporary working folder in `folder`, removed afterwards (clean_leftovers(folder,
    [name]) removes one a kill left); a failed write in it is one line naming `folder`."""
    folder = Path(folder)
    try:
        tmp = temp_dir(folder, name)
    except OSError as exc:
        raise write_failed(folder, exc, elsewhere) from None
    try:
        with failures_named(folder, tmp, elsewhere):
            yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(tmp: Path, path: Path) -> None:
    """Put the folder `tmp` in `path`'s place; an old `path` ends in `tmp` or is removed."""
    if not path.exists():
        os.rename(tmp, path)
    elif not exchange(tmp, path):  # tmp now holds the old folder, which atomic_dir removes
        old = temp_dir(path.parent, path.name)  # empty: a folder may be renamed onto it (rename(2))
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def folder_lock(folder: Path, say: Callable[[str], object]) -> Iterator[None]:
    """Hold an exclusive lock on an output folder (flock on its .lock file) for a whole build.

    A second build of the same folder waits, and says so, instead of interleaving its writes.
    """
    lock = Path(folder) / ".lock"
    try:
        f = open(lock, "a+")
    except OSError as exc:
        raise write_failed(lock, exc) from None
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            say(f"waiting for another build of {folder} to finish (pid {holder}) ...")
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
