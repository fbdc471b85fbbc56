"""The grid's cells as one Slurm job array, submitted through submitit.

Every cell's job is `build.py cell` (commands/executors/slurm_job.py) on the cluster's shared
filesystem: the checkout, runs/ and the data must be there, and submitit's pickles, the job
scripts and each job's log go to runs/<profile>/slurm/. The build records which job runs which
cell (jobs.json there), waits for them, or leaves them running with --no-wait; a later build with
--executor slurm finds what finished and waits for what still runs, instead of submitting it
again. It asks squeue, not sacct, how the jobs stand (commands/executors/slurm_queue.py), so a job
killed from outside is reported however the cluster keeps its accounts.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from pathlib import Path

from commands import workspace
from commands.cellrun import CellRun, cell_from_json
from commands.executors.outcome import Outcome
from commands.executors.slurm_queue import GONE, QueueUnreadable, active, job_states
from commands.executors.slurm_settings import SlurmSettings, slurm_settings
from commands.sources import trained_here
from commands.training import reset_training
from commands.workspace import Paths, log, shown
from pipeline.config import ConfigError
from pipeline.files import write_json
from pipeline.jsonfile import parse_json
from pipeline.project import ROOT

COMMANDS = ("sbatch", "srun", "squeue", "scontrol")  # what submitit and the wait need on the PATH
UNREADABLE_POLLS = 6  # squeue failing this many times in a row ends the wait (the jobs run on)
TAIL_LINES = 8  # of a failed job's log, in the report
CONFIRM_POLLS = 2  # an ended job's results are looked for twice (a shared filesystem may lag)


def run_on_slurm(runs: list[CellRun], args, paths: Paths) -> Outcome:
    """Submit the cells no job is running yet, then wait for all of them (or not, with --no-wait)."""
    missing = [c for c in COMMANDS if shutil.which(c) is None]
    if missing:
        raise ConfigError(
            f"--executor slurm: no {missing[0]} on the PATH: run the build on a Slurm login node, "
            "or use --executor local"
        )
    settings = slurm_settings(args)
    if paths.profile == "paper" and not (settings.gpus_per_job or args.device):
        raise ConfigError(
            "--executor slurm: the paper profile trains on a GPU: give --slurm-gpus-per-job 1 "
            "(or gpus_per_job in slurm.yaml)"
        )
    folder = workspace.RUNS / paths.profile / "slurm"
    records = read_records(folder / "jobs.json")
    waiting, to_submit = plan(runs, records)
    for run in to_submit if args.retrain else []:
        reset_training(run)
    if to_submit:
        submitted = submit_array(to_submit, settings, folder, paths.profile)
        jobs = dict(zip([run.name for run in to_submit], submitted, strict=True))
        records |= {run.name: {"job": jobs[run.name], "cell": run.to_json()} for run in to_submit}
        write_json(folder / "jobs.json", records)
        waiting |= jobs
    if args.no_wait and waiting:
        log(
            f"{'slurm':<22} {len(waiting)} runs queued or running: `build.py --executor slurm` "
            "again gathers them (scancel stops them)"
        )
        outcome = Outcome(pending=list(waiting))
    else:
        cells = {name: cell_from_json(records[name]["cell"]) for name in waiting}
        outcome = wait_for(waiting, cells, settings, folder)
    if records:  # a cell whose results are in is gathered: its record goes
        unfinished = {n: r for n, r in records.items() if not cell_done(cell_from_json(r["cell"]))}
        write_json(folder / "jobs.json", unfinished)
    return outcome


def plan(runs: list[CellRun], records: dict) -> tuple[dict[str, str], list[CellRun]]:
    """The cells a recorded job still runs (to wait for), and those to submit."""
    states = queue_states([rec["job"] for rec in records.values()])
    cells = {run.name: run for run in runs}
    waiting, to_submit = {}, []
    for name, rec in records.items():
        if not active(states[rec["job"]]):
            continue
        if name in cells and rec["cell"] != cells[name].to_json():
            raise ConfigError(
                f"run {name} has Slurm job {rec['job']} still queued or running with other settings: "
                f"wait for it, or scancel {rec['job']}, then build again"
            )
        waiting[name] = rec["job"]
    for run in runs:
        rec = records.get(run.name)
        if run.name in waiting or (rec and rec["cell"] == run.to_json() and cell_done(run)):
            continue  # running, or finished since the build that submitted it
        if rec is not None:
            log(f"{'slurm ' + run.name:<22} job {rec['job']} ended without its results: submitting it again")
        to_submit.append(run)
    return waiting, to_submit


def cell_done(run: CellRun) -> bool:
    """Whether the cell's job left what the build reads: the trained run and its evaluation."""
    outputs = ["eval.npz", "history.json"] + ([] if run.primary else ["predictions.npz"])
    return trained_here(run.run_dir) and all((run.run_dir / name).exists() for name in outputs)


def submit_array(runs: list[CellRun], settings: SlurmSettings, folder: Path, profile: str) -> list[str]:
    """One job per cell, as one array; their job IDs ("123_0", …) in the cells' order."""
    import submitit

    from commands.executors.slurm_job import CellJob

    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=3)
    executor.update_parameters(**sbatch_parameters(settings, profile))
    refused = io.StringIO()
    try:
        with contextlib.redirect_stderr(refused):  # submitit echoes sbatch's refusal: it is in ours
            jobs = executor.map_array(CellJob(), [run.to_json() for run in runs])
    except (submitit.core.utils.FailedJobError, submitit.core.utils.FailedSubmissionError) as exc:
        reason = (str(exc).strip().splitlines() or ["no reason given"])[-1]
        raise ConfigError(
            f"sbatch refused the grid's array ({reason}): check --slurm-partition and slurm.yaml"
        ) from None
    ids = [job.job_id for job in jobs]
    names = ", ".join(run.name for run in runs)
    log(
        f"{'slurm':<22} submitted {len(runs)} runs as array {ids[0].split('_')[0]} ({names}); logs in {shown(folder)}"
    )
    return ids


def sbatch_parameters(settings: SlurmSettings, profile: str) -> dict:
    """submitit's SlurmExecutor parameters (sbatch's, underscored) for the settings."""
    params = {
        "job_name": f"grid-{profile}",
        "time": settings.time,
        "nodes": 1,
        "ntasks_per_node": 1,
        "cpus_per_task": settings.cpus_per_job,
        "array_parallelism": settings.array_parallelism,
        "additional_parameters": {"chdir": str(ROOT), **{k: str(v) for k, v in settings.sbatch.items()}},
    }
    optional = {
        "partition": settings.partition,
        "gpus_per_node": settings.gpus_per_job or None,
        "mem": f"{round(settings.mem_gb * 1024)}MB" if settings.mem_gb else None,
        "setup": settings.setup or None,
    }
    return params | {k: v for k, v in optional.items() if v is not None}


def wait_for(
    waiting: dict[str, str], runs: dict[str, CellRun], settings: SlurmSettings, folder: Path
) -> Outcome:
    """Until every job has ended: each one that ended without its cell's results is a failure,
    reported with its job ID and the last lines of its log."""
    outcome, seen, unreadable, suspect = Outcome(), {}, 0, dict.fromkeys(waiting, 0)
    left = dict(waiting)
    try:
        while left:
            try:
                states = job_states(list(left.values()))
                unreadable = 0
            except QueueUnreadable as exc:
                unreadable += 1
                if unreadable >= UNREADABLE_POLLS:
                    raise ConfigError(
                        f"squeue failed {unreadable} times in a row ({exc}): the jobs may run on; "
                        "build again with --executor slurm to gather them"
                    ) from None
                time.sleep(settings.poll_seconds)
                continue
            for name, job in list(left.items()):
                state = states[job]
                if seen.get(name) != state:
                    seen[name] = state
                    log(f"{'slurm ' + name:<22} job {job}: {state.lower() if state != GONE else 'ended'}")
                if active(state):
                    continue
                if cell_done(runs[name]):
                    del left[name]
                    continue
                suspect[name] += 1
                if suspect[name] >= CONFIRM_POLLS:
                    del left[name]
                    outcome.failed[name] = f"job {job} {state.lower()}"
                    report_failure(name, job, state, folder)
            if left:
                time.sleep(settings.poll_seconds)
    except (KeyboardInterrupt, SystemExit):
        log(
            f"{'slurm':<22} stopped waiting; the jobs go on: build again with --executor slurm to gather them"
        )
        raise
    return outcome


def report_failure(name: str, job: str, state: str, folder: Path) -> None:
    how = "ended" if state in (GONE, "COMPLETED") else state.lower()
    logs = [folder / f"{job}_0_log.err", folder / f"{job}_0_log.out"]
    tail, source = next(((last_lines(p), p) for p in logs if last_lines(p)), ([], logs[0]))
    log(f"{'failed ' + name:<22} Slurm job {job} {how} without its results; last lines of {shown(source)}:")
    for line in tail or ["(the log is empty or missing)"]:
        log(f"{'':<22}   {line}")


def last_lines(path: Path, count: int = TAIL_LINES) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 16_384))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-count:]


def queue_states(jobs: list[str]) -> dict[str, str]:
    try:
        return job_states(jobs)
    except QueueUnreadable as exc:
        raise ConfigError(f"squeue failed ({exc}): is the Slurm controller up? Try again") from None


def read_records(path: Path) -> dict:
    """jobs.json: cell name -> {"job": Slurm job ID, "cell": the cell's JSON}; absent: none."""
    if not path.exists():
        return {}
    try:
        records = parse_json(path.read_bytes())
        ok = isinstance(records, dict) and all(
            isinstance(r, dict) and isinstance(r.get("job"), str) and isinstance(r.get("cell"), str)
            for r in records.values()
        )
        ok = ok and all(cell_from_json(r["cell"]).name == name for name, r in records.items())
    except (OSError, ValueError, ConfigError):  # ValueError: not UTF-8, or not bounded JSON
        ok = False
    if not ok:
        raise ConfigError(
            f"{shown(path)} is not the build's record of its Slurm jobs: move it aside "
            "(a run whose job still runs is then submitted again)"
        )
    return records
