"""A child process that ends when its parent dies, by any signal, kill -9 included.

Used by the figure workers (report/figures/drawing.py) and by the GPU job's trainers (gpu/run.py), so that
no worker outlives a killed build or job.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # linux/prctl.h: the signal this process gets when its parent dies


def die_with_parent(parent: int, sig: signal.Signals = signal.SIGKILL) -> None:
    """Ask for `sig` when the parent dies (prctl(2), PR_SET_PDEATHSIG; Linux only, elsewhere nothing),
    then end at once if `parent` is already gone: a parent that died before the call is seen by its
    pid, since this process has been handed to another by then."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        except (OSError, AttributeError):  # no libc to call: the pid check below still holds
            pass
    if os.getppid() != parent:
        os._exit(1)
