"""The grid's cells as local processes, --jobs at a time, each on its own device.

On a machine with GPUs each job sees one of them (CUDA_VISIBLE_DEVICES); on a CPU each gets its
share of the cores as torch threads. There are never more jobs than devices unless asked
(--share-devices): two trainings on one GPU without MPS take turns on it rather than running at
once, and submitit's LocalExecutor, which starts every job at once on the same GPU, is not used
for that reason (facebookincubator/submitit#1685).

Ctrl-C or SIGTERM stops every job (SIGTERM, then SIGKILL after STOP_SECONDS), and a job whose
build is killed outright ends with it (commands/executors/job.py); each keeps its last epoch's
checkpoint, and the next build resumes from it.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace

from commands.cellrun import CellRun
from commands.executors.job import job_command, job_env
from commands.executors.outcome import Outcome
from commands.training import reset_training
from commands.workspace import log
from pipeline.config import ConfigError
from pipeline.project import ROOT

STOP_SECONDS = 30  # a job asked to stop ends its torch call and exits well within this
POLL_SECONDS = 0.2
TAIL_LINES = 5  # of a failed job's output, in the report
ERROR_PREFIX = "build.py: error: "  # commands/exits.py: a job's one-line error


@dataclass(frozen=True)
class Slot:
    """One device a job runs on."""

    label: str  # as the log names it: "GPU 1", "1 thread"
    env: dict[str, str]
    threads: int | None  # torch's intra-op threads in the job; None: its default


def job_slots(jobs: int, device: str | None, share: bool) -> list[Slot]:
    """`jobs` slots on this machine's GPUs (when the build would train on CUDA), else on its cores."""
    import torch

    on_cuda = device.startswith("cuda") if device else torch.cuda.is_available()
    if on_cuda:
        if device not in (None, "cuda"):
            raise ConfigError(
                f"--jobs {jobs} with --device {device}: each job gets its own GPU; leave --device out"
            )
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        gpus = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
        _enough(jobs, len(gpus), "GPUs", share)
        return [
            Slot(f"GPU {gpus[i % len(gpus)]}", {"CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)]}, None)
            for i in range(jobs)
        ]
    cores = len(os.sched_getaffinity(0))
    _enough(jobs, cores, "cores", share)
    threads = max(1, cores // jobs)
    env = {"OMP_NUM_THREADS": str(threads)}
    return [Slot(f"{threads} thread{'s' * (threads > 1)}", env, threads) for _ in range(jobs)]


def _enough(jobs: int, devices: int, kind: str, share: bool) -> None:
    if jobs > devices and not share:
        raise ConfigError(
            f"--jobs {jobs}: this machine has {devices} {kind}, and jobs that share one take turns on it: "
            f"use --jobs {devices}, or add --share-devices"
        )


class Job:
    """A running `build.py cell`: its output relayed line by line, its last lines kept."""

    def __init__(self, run: CellRun, slot: int, labels: list[Slot]) -> None:
        self.run, self.slot = run, slot
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.process = subprocess.Popen(
            job_command(run.to_json()),
            cwd=ROOT,
            env=job_env(labels[slot].env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.reader = threading.Thread(target=self._relay, daemon=True)
        self.reader.start()

    def _relay(self) -> None:
        for line in self.process.stdout:
            self.tail.append(line.rstrip("\n"))
            sys.stdout.write(line)
            sys.stdout.flush()

    def finished(self) -> int | None:
        code = self.process.poll()
        if code is not None:
            self.reader.join()
        return code

    def why(self, code: int) -> str:
        last = next((line for line in reversed(self.tail) if line.strip()), "no output")
        said = last.removeprefix(ERROR_PREFIX)
        return said if said != last else f"exit status {code}: {last}"


def run_locally(runs: list[CellRun], args) -> Outcome:
    """Each cell as a job, at most --jobs at a time; a failed one is named and the others go on."""
    if not runs:
        return Outcome()
    slots = job_slots(args.jobs, args.device, args.share_devices)
    log(
        f"{'grid':<22} {len(runs)} runs, {min(len(runs), len(slots))} at a time "
        f"({', '.join(s.label for s in slots[: len(runs)])})"
    )
    waiting, running, outcome = list(runs), [], Outcome()
    try:
        while waiting or running:
            free = sorted(set(range(len(slots))) - {job.slot for job in running})
            while waiting and free:
                slot = free.pop(0)
                run = waiting.pop(0)
                if args.retrain:
                    reset_training(run)
                running.append(
                    Job(replace(run, options=replace(run.options, threads=slots[slot].threads)), slot, slots)
                )
            time.sleep(POLL_SECONDS)
            for job in [j for j in running if j.finished() is not None]:
                running.remove(job)
                code = job.finished()
                if code != 0:
                    outcome.failed[job.run.name] = job.why(code)
                    log(f"{'failed ' + job.run.name:<22} {job.why(code)}")
    finally:
        stop(running)
    return outcome


def stop(jobs: list[Job]) -> None:
    """Every job still running: SIGTERM, then SIGKILL for any still there after STOP_SECONDS."""
    for job in jobs:
        if job.process.poll() is None:
            job.process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for job in jobs:
        try:
            job.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            job.process.kill()
            job.process.wait()
