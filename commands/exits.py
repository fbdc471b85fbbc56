"""How a command ends: 0 done, 2 an input or setup error, 130 Ctrl-C, 143 SIGTERM, 141 a reader gone.

check and diff also end in 1, a claim failed or is missing (commands/gate.py), which CI must tell
apart from a broken set-up. Every output is written atomically, so no way of ending tears one.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

from pipeline.errors import StudyError

INPUT_ERROR = 2  # a usage, input or setup error: one line on stderr naming the file or option and the fix


class Terminated(BaseException):
    """SIGTERM, raised where the program is, like KeyboardInterrupt for Ctrl-C (not an Exception,
    so that no handler of errors swallows it); every output is written atomically, so none is torn."""


def _raise_terminated(signum, frame):
    raise Terminated()


def exit_status(command: Callable[[], int | None]) -> int:
    """Run a command and give its exit status; each way it can end, but a bug, is one line at most."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return command() or 0
    except StudyError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return INPUT_ERROR
    except KeyboardInterrupt:
        print("build.py: interrupted; earlier outputs are intact", file=sys.stderr)
        return 128 + signal.SIGINT
    except Terminated:
        print("build.py: terminated (SIGTERM); earlier outputs are intact", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        return reader_gone()
    finally:
        signal.signal(signal.SIGTERM, previous)


def reader_gone() -> int:
    """The reader of our output went away (`build.py | head -1`): stop quietly with the status of a
    tool killed by SIGPIPE. Both streams go to /dev/null first, or the interpreter's flush at exit
    fails on the closed pipe again (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        os.dup2(devnull, stream.fileno())
    return 128 + signal.SIGPIPE
