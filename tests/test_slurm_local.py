"""tools/slurm-local.sh: a real single-node Slurm comes up, runs a batch job and goes down, leaving
none of the daemons it started. Skipped only where its packages are missing and apt cannot install
them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.project import ROOT

SCRIPT = ROOT / "tools" / "slurm-local.sh"
DAEMONS = ("munged", "slurmctld", "slurmd")


def _installable() -> bool:
    return all(shutil.which(d) for d in (*DAEMONS, "sbatch")) or shutil.which("apt-get") is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


@pytest.mark.skipif(not _installable(), reason="no Slurm packages and no apt-get to install them")
def test_a_local_slurm_runs_a_batch_job_and_down_stops_exactly_its_daemons(tmp_path):
    state = Path("/tmp") / f"slurm-test-{os.getpid()}"  # munge's socket path must stay short
    env = {
        **os.environ,
        "SLURM_LOCAL_STATE": str(state),
        "SLURM_CONF": str(state / "slurm.conf"),
        "SLURM_LOCAL_PORT": "16817",  # beside any other cluster of this machine (CI's, the grid tests')
    }
    up = subprocess.run(["bash", str(SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        pids = {d: int((state / f"{d}.pid").read_text()) for d in DAEMONS}
        assert all(_alive(p) for p in pids.values())
        again = subprocess.run(
            ["bash", str(SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 2 and again.stderr.count("\n") == 1 and "already up" in again.stderr
        out = tmp_path / "job.out"
        job = subprocess.run(
            ["sbatch", "--wait", "-o", str(out), "--wrap", "echo ran on $SLURM_JOB_NODELIST"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert job.returncode == 0, job.stderr
        assert out.read_text().strip() == "ran on localhost"
    finally:
        down = subprocess.run(
            ["bash", str(SCRIPT), "down"], env=env, capture_output=True, text=True, timeout=60
        )
    assert down.returncode == 0, down.stderr
    assert not any(_alive(p) for p in pids.values())
    assert not state.exists()


def test_an_unknown_command_is_one_line_and_exit_2():
    done = subprocess.run(["bash", str(SCRIPT), "sideways"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "up|down|env" in done.stderr
