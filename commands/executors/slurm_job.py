"""One cell's Slurm job, as submitit runs it: `build.py cell` in a child process.

Checkpointable: when Slurm signals a preemption or the end of the job's time (SIGUSR2, submitit's
--signal), submitit requeues the job with the same cell, and the cell resumes from its last
epoch's checkpoint (build.py's train stage finds its interrupted training). The child leaves the
signals to this process and dies with it (commands/executors/job.py).
"""

from __future__ import annotations

import subprocess

import submitit

from commands.executors.job import job_command, job_env
from pipeline.project import ROOT


class CellFailed(Exception):
    """The cell's `build.py cell` ended with an error; its log says which."""


class CellJob(submitit.helpers.Checkpointable):
    def __call__(self, cell_json: str) -> str:
        child = subprocess.Popen(job_command(cell_json), cwd=ROOT, env=job_env({}, in_step=True))
        try:
            code = child.wait()
        finally:
            if child.poll() is None:  # this process is ending (requeued, or cancelled): so does the cell
                child.kill()
                child.wait()
        if code != 0:
            raise CellFailed(f"build.py cell exited with status {code}: see the lines above")
        return "done"
