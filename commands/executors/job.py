"""A job of the grid as a process: `build.py cell CELL`, and how it ends with whoever started it.

A local job ends with the build that started it (PR_SET_PDEATHSIG, SIGTERM: it stops as at Ctrl-C,
its last epoch's checkpoint kept). A job inside a Slurm step leaves the signals to its parent,
the submitit process: Slurm's SIGTERM and submitit's preemption signal (SIGUSR2) go to every
process of the step, and only the parent must act on them (requeue, or end), so the job ignores
both and dies by SIGKILL with its parent. Every file it writes is replaced atomically, so a kill at
any instant leaves the last checkpoint whole.
"""

from __future__ import annotations

import os
import signal
import sys

from pipeline.parentdeath import die_with_parent
from pipeline.project import ROOT

PARENT = "BUILD_JOB_PARENT"  # the pid of the process that started this job
IN_STEP = "BUILD_JOB_IN_SLURM_STEP"  # set: the parent is submitit's process in a Slurm step


def job_command(cell_json: str) -> list[str]:
    return [sys.executable, str(ROOT / "build.py"), "cell", cell_json]


def job_env(extra: dict[str, str], in_step: bool = False) -> dict[str, str]:
    env = {**os.environ, **extra, PARENT: str(os.getpid()), "PYTHONUNBUFFERED": "1"}
    if in_step:
        env[IN_STEP] = "1"
    return env


def watch_parent() -> None:
    """In a job: end with the parent that started it (nothing outside a job)."""
    parent = os.environ.get(PARENT)
    if parent is None:
        return
    if os.environ.get(IN_STEP):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        die_with_parent(int(parent), signal.SIGKILL)
    else:
        die_with_parent(int(parent), signal.SIGTERM)
