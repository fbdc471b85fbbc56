"""Writing a file the user named on the command line (check --junit FILE, --markdown FILE).

What the name is decides how; a name is never replaced by something of another kind (a device
or a link by a regular file), and a FIFO is never waited on forever.

- a new or regular file is replaced atomically (pipeline/files.py);
- a symbolic link is followed: the link stays, the file it leads to is written as above;
- a device or a FIFO (/dev/null, /dev/stdout, a named pipe) is opened and written into: renaming
  over it would put a regular file in its place. A FIFO that nobody reads gives one line instead
  of waiting forever;
- the file this process prints to (/dev/stdout redirected to a file) is written through its
  stdout, after what was printed;
- a folder, or a link to nothing, gives one line.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

from pipeline.files import write_bytes
from pipeline.outputerror import OutputError, write_failed


def write_output_file(path: Path, text: str, option: str) -> None:
    """Write `text` to the file named by the command-line `option` (such as --junit), or one line."""
    path, data = Path(path), text.encode("utf-8")
    elsewhere = f"give another {option} file"
    try:
        found = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise OutputError(
                f"{option} {path} is a link to {os.readlink(path)}, which does not exist: "
                "give the file itself, or a new file name"
            ) from None
        found = None
    except OSError as exc:
        raise write_failed(path, exc, elsewhere) from None
    if found is None:
        write_bytes(path, data, elsewhere)
    elif stat.S_ISDIR(found.st_mode):
        raise OutputError(f"{option} {path} is a folder: give a file name, such as {path / 'report.txt'}")
    elif not stat.S_ISREG(found.st_mode):
        _write_into(_open_into(path, option), path, data, elsewhere)
    elif (own := _own_output(found)) is not None:
        _write_into(os.dup(own), path, data, elsewhere)
    else:
        write_bytes(Path(os.path.realpath(path)), data, elsewhere)  # the link's target, not the link


def _own_output(found: os.stat_result) -> int | None:
    """This process's stdout or stderr where the file is one of them, else None: written through it,
    what it prints next follows instead of overwriting, and a rename would cut its output off."""
    for fd in (1, 2):
        try:
            if os.path.samestat(found, os.fstat(fd)):
                return fd
        except OSError:  # closed
            continue
    return None


def _open_into(path: Path, option: str) -> int:
    """An existing device or FIFO opened for writing into."""
    try:
        # O_NONBLOCK: opening a FIFO nobody reads fails (ENXIO, fifo(7)) instead of waiting forever
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OutputError(
                f"{option} {path}: nobody reads it (a FIFO or socket): start its reader first, or give a file"
            ) from None
        raise write_failed(path, exc, f"give another {option} file") from None
    os.set_blocking(fd, True)  # a reader is there: wait for it as any writer does
    return fd


def _write_into(fd: int, path: Path, data: bytes, elsewhere: str) -> None:
    """Write `data` into the open `fd` (of `path`) after what this process printed, and close it."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        with open(fd, "wb") as f:
            f.write(data)
    except BrokenPipeError:
        raise OutputError(f"{path}: its reader closed it before everything was written") from None
    except OSError as exc:
        raise write_failed(path, exc, elsewhere) from None
