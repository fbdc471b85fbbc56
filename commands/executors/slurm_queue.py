"""How the grid's Slurm jobs stand, from squeue alone.

submitit asks sacct, which needs Slurm's accounting database; without one it never learns that a
job killed from outside has ended, and waits for ever (facebookincubator/submitit#1720). squeue
needs only the controller: it lists a job while it is queued or running, and for MinJobAge
(300 s by default, slurm.conf(5)) after it ended, with its final state; after that the job is gone
from it. So a job is active while squeue shows it in an active state, and ended otherwise.
"""

from __future__ import annotations

import subprocess

# squeue's states of a job that has not ended (squeue(1), JOB STATE CODES); a requeued job passes
# through REQUEUED on its way back to PENDING.
ACTIVE = {
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "COMPLETING",
    "REQUEUED",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "RESIZING",
    "SUSPENDED",
    "STOPPED",
    "SIGNALING",
    "STAGE_OUT",
    "RESV_DEL_HOLD",
}
GONE = "GONE"  # no longer listed: ended longer than MinJobAge ago


class QueueUnreadable(Exception):
    """squeue failed; the message is its reason."""


def job_states(job_ids: list[str]) -> dict[str, str]:
    """Each job ID's squeue state ("123_4": "RUNNING"); GONE for a job squeue no longer lists."""
    if not job_ids:
        return {}
    arrays = sorted({job.split("_")[0] for job in job_ids})
    try:
        done = subprocess.run(
            [
                "squeue",
                "--noheader",
                "--array",
                "--states",
                "all",
                "--jobs",
                ",".join(arrays),
                "--format",
                "%i|%T",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise QueueUnreadable(str(exc)) from None
    if done.returncode != 0:
        if "Invalid job id" in done.stderr:  # every array asked for has left the controller
            return dict.fromkeys(job_ids, GONE)
        raise QueueUnreadable(
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        )
    listed = dict(line.split("|", 1) for line in done.stdout.splitlines() if "|" in line)
    return {job: listed.get(job, GONE) for job in job_ids}


def active(state: str) -> bool:
    return state in ACTIVE
