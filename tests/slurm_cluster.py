"""A real single-node Slurm for the tests (tools/slurm-local.sh): the one CI brought up ($SLURM_CONF
answers), else one started here for the module and stopped after it. Skipped only where the
packages are missing and apt cannot install them."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.project import ROOT

SCRIPT = ROOT / "tools" / "slurm-local.sh"
PORT = "26817"  # beside CI's cluster (6817) and tests/test_slurm_local.py's (16817)


def installable() -> bool:
    packaged = all(shutil.which(c) for c in ("munged", "slurmctld", "slurmd", "sbatch"))
    return packaged or shutil.which("apt-get") is not None


def answers(conf: str) -> bool:
    try:
        ping = subprocess.run(
            ["scontrol", "ping"], env={**os.environ, "SLURM_CONF": conf}, capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return ping.returncode == 0 and b"UP" in ping.stdout


def cluster() -> Iterator[str]:
    """The slurm.conf of a cluster that answers, for as long as the caller needs it."""
    given = os.environ.get("SLURM_CONF")
    if given and answers(given):
        yield given
        return
    if not installable():
        pytest.skip("no Slurm packages and no apt-get to install them")
    state = Path("/tmp") / f"slurm-grid-{os.getpid()}"  # munge's socket path must stay short
    env = {**os.environ, "SLURM_LOCAL_STATE": str(state), "SLURM_LOCAL_PORT": PORT}
    up = subprocess.run(["bash", str(SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        yield str(state / "slurm.conf")
    finally:
        subprocess.run(["bash", str(SCRIPT), "down"], env=env, capture_output=True, timeout=60)
