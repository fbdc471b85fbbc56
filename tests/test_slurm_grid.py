"""--executor slurm against a real single-node Slurm (tests/slurm_cluster.py): the smoke grid's
numbers equal those of local jobs exactly, a cell preempted mid-training resumes from its
checkpoint with the same numbers, a job cancelled from outside is reported within a bounded time,
and without Slurm the build says so in one line."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import isolate_build
from slurm_cluster import cluster

import build

# The smoke grid (2 models x 2 seeds), three epochs each, so that a cell can be preempted between
# its first checkpoint and its end (about 2 s an epoch on one core), on as few images as keep that.
GRID = {
    "data": {"val_size": 100, "train_subset": 128, "val_subset": 32, "test_subset": 100},
    "train": {"epochs": 3, "batch_size": 64, "milestones": (2,)},
}
PREEMPTED = "baseline-seed43"  # the cell the preemption test interrupts: it starts third


@pytest.fixture(scope="module")
def slurm_conf():
    with pytest.MonkeyPatch.context() as mp:
        for conf in cluster():
            mp.setenv("SLURM_CONF", conf)
            yield conf


def _args(root: Path, data: Path, *more: str) -> list[str]:
    return ["--profile", "smoke", "--data-dir", str(data), "--no-pdf", "--out", str(root / "out"), *more]


def _settings(root: Path, **more) -> Path:
    path = root / "slurm.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in {"poll_seconds": 0.5, "time": 30, **more}.items()))
    return path


def _squeue(job: str) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-r", "--states", "all", "-j", job.split("_")[0], "-o", "%i %T"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return next((line.split()[1] for line in out.splitlines() if line.split()[0] == job), "GONE")


def _until(what: str, check, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {seconds} s")


@pytest.fixture(scope="module")
def local_grid(tmp_path_factory, tiny_cifar):
    """The grid as two local jobs (one core each, as each Slurm job below has)."""
    root = tmp_path_factory.mktemp("local")
    with pytest.MonkeyPatch.context() as mp:
        isolate_build(mp, root, GRID)
        assert build.main(_args(root, tiny_cifar, "--train-missing", "--jobs", "2")) == 0
    return root


@pytest.fixture(scope="module")
def slurm_grid(tmp_path_factory, tiny_cifar, slurm_conf):
    """The same grid as a Slurm array, submitted without waiting; one cell preempted after its first
    epoch (submitit's interrupt), then gathered by the same command again (--retrain: a requeued
    job resumes all the same, and the gather waits rather than retraining). Returns the root, the
    preempted job and the preemption's timeline."""
    root = tmp_path_factory.mktemp("slurm")
    timeline, start = {}, time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        isolate_build(mp, root, GRID)
        args = _args(root, tiny_cifar, "--retrain", "--train-missing", "--executor", "slurm")
        args += ["--slurm-config", str(_settings(root))]
        assert build.main([*args, "--no-wait"]) == 0
        timeline["submitted"] = time.monotonic() - start
        job = json.loads((root / "runs" / "smoke" / "slurm" / "jobs.json").read_text())[PREEMPTED]["job"]
        history = root / "runs" / "smoke" / PREEMPTED / ".training" / "history.json"
        _until("the first epoch", lambda: history.exists() and json.loads(history.read_text())["epochs"])
        timeline["epoch 1 checkpoint"] = time.monotonic() - start
        import submitit

        submitit.SlurmJob(folder=root / "runs" / "smoke" / "slurm", job_id=job)._interrupt()
        timeline["preempted"] = time.monotonic() - start
        _until("the requeue", lambda: _squeue(job) == "PENDING")
        timeline["requeued"] = time.monotonic() - start
        # The requeued job starts again after the cluster's cred_expire + 1 s (tools/slurm-local.sh)
        assert build.main(args) == 0
        timeline["gathered"] = time.monotonic() - start
    return root, job, timeline


def _numbers(root: Path) -> dict:
    results = json.loads((root / "out" / "results.json").read_text())
    return {"runs": results["runs"], "claims": {k: v["value"] for k, v in results["claims"].items()}}


def _epochs(root: Path, cell: str) -> list[dict]:
    rows = json.loads((root / "runs" / "smoke" / cell / "history.json").read_text())["epochs"]
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")} for row in rows]  # timings


def test_the_grid_on_slurm_gives_exactly_the_numbers_of_local_jobs(local_grid, slurm_grid):
    root = slurm_grid[0]
    assert [r["name"] for r in _numbers(root)["runs"]] == [
        "baseline",
        "cutmix",
        "baseline-seed43",
        "cutmix-seed43",
    ]
    assert _numbers(root) == _numbers(local_grid)
    for cell in ("baseline", "cutmix", "baseline-seed43", "cutmix-seed43"):
        assert _epochs(root, cell) == _epochs(local_grid, cell), cell
    assert json.loads((root / "runs" / "smoke" / "slurm" / "jobs.json").read_text()) == {}  # all gathered


def test_a_preempted_cell_resumes_from_its_checkpoint_with_the_same_numbers(local_grid, slurm_grid):
    root, job, timeline = slurm_grid
    log = (root / "runs" / "smoke" / "slurm" / f"{job}_0_log.out").read_text()
    before, _, after = log.partition("this job is preempted")
    assert "Requeued job" in after and f"resume {PREEMPTED}" in after
    assert "epoch 1/3" in before and "epoch 1/3" not in after  # not trained again
    assert "epoch 2/3" in after and "epoch 3/3" in after
    assert _epochs(root, PREEMPTED) == _epochs(local_grid, PREEMPTED)
    assert list(timeline) == ["submitted", "epoch 1 checkpoint", "preempted", "requeued", "gathered"]


def test_a_job_cancelled_from_outside_is_reported_failed_within_bounded_time(
    tmp_path, tiny_cifar, slurm_conf, monkeypatch, capsys
):
    isolate_build(monkeypatch, tmp_path, GRID)
    records = tmp_path / "runs" / "smoke" / "slurm" / "jobs.json"
    cancelled = {}

    def cancel_once_running():
        job = _until(
            "the submission", lambda: records.exists() and json.loads(records.read_text())["baseline"]["job"]
        )
        _until("the job's start", lambda: _squeue(job) == "RUNNING")
        subprocess.run(["scancel", job.split("_")[0]], check=True, timeout=30)
        cancelled["at"] = time.monotonic()

    canceller = threading.Thread(target=cancel_once_running, daemon=True)
    canceller.start()
    args = _args(tmp_path, tiny_cifar, "--executor", "slurm", "--slurm-config", str(_settings(tmp_path)))
    assert build.main(args) == 2
    took = time.monotonic() - cancelled["at"]
    canceller.join()
    out, err = capsys.readouterr()
    assert took < 30, f"the cancellation took {took:.1f} s to be reported"
    assert "failed baseline" in out and "cancelled without its results" in out
    assert err.count("\n") == 1 and "failed (baseline, cutmix)" in err


def test_without_slurm_the_executor_is_one_line_and_exit_2(tmp_path, tiny_cifar, monkeypatch, capsys):
    isolate_build(monkeypatch, tmp_path, GRID)
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm"))
    assert build.main(_args(tmp_path, tiny_cifar, "--executor", "slurm")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no sbatch on the PATH" in err and "--executor local" in err
