"""The executors' inputs and the local one's processes: a cell survives its JSON round trip and a
damaged one is one line; slurm.yaml and the --slurm-* flags; the jobs.json record; squeue's
answers; how --jobs maps onto GPUs and cores; and Ctrl-C, SIGTERM or a killed build stop every
local job, leave no orphan and keep each job's last checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from commands.cellrun import CellRun, RunOptions, cell_from_json
from commands.executors import local, slurm_queue
from commands.executors.slurm import read_records, sbatch_parameters
from commands.executors.slurm_settings import SETTINGS_FILE, SlurmSettings, read_settings, slurm_settings
from pipeline.config import ConfigError, run_config
from pipeline.project import ROOT


def _cell(tmp_path) -> CellRun:
    options = RunOptions(None, True, "cpu", "fp32", False, 1)
    return CellRun("cutmix-seed43", run_config("smoke", "cutmix"), tmp_path / "c", False, options)


def test_a_cell_survives_its_json_and_a_damaged_one_is_one_line(tmp_path):
    cell = _cell(tmp_path)
    assert cell_from_json(cell.to_json()) == cell
    broken = json.loads(cell.to_json())
    for change in (
        lambda d: d.pop("options"),
        lambda d: d["options"].update(threads="2"),
        lambda d: d["options"].update(precision="fp8"),
        lambda d: d.update(run_dir="relative/path"),
        lambda d: d["config"]["train"].update(unknown=1),
    ):
        d = json.loads(json.dumps(broken))
        change(d)
        with pytest.raises(ConfigError, match="not a"):
            cell_from_json(json.dumps(d))
    with pytest.raises(ConfigError, match="not a cell"):
        cell_from_json("[" * 100)


def _flags(**given) -> SimpleNamespace:
    names = ("config", "partition", "gpus_per_job", "time", "array_parallelism", "sbatch")
    return SimpleNamespace(**{f"slurm_{n}": given.get(n) for n in names})


def test_the_committed_settings_are_the_defaults_and_the_flags_override_them(tmp_path):
    assert read_settings(SETTINGS_FILE) == SlurmSettings()
    settings = slurm_settings(_flags(partition="gpu", time=90, sbatch=["account=lab", "--qos=short"]))
    assert (settings.partition, settings.time, settings.sbatch) == (
        "gpu",
        90,
        {"account": "lab", "qos": "short"},
    )
    params = sbatch_parameters(settings, "paper")
    assert params["additional_parameters"] == {"chdir": str(ROOT), "account": "lab", "qos": "short"}
    assert params["partition"] == "gpu" and "gpus_per_node" not in params


@pytest.mark.parametrize(
    "text, says",
    [
        ("partitoin: gpu\n", "unknown setting 'partitoin'"),
        ("time: soon\n", "time: 'soon' is not a number of minutes"),
        ("cpus_per_job: 0\n", "must be at least 1"),
        ("gpus_per_job: true\n", "gpus_per_job: True is not a whole number"),
        ("sbatch: [account]\n", "sbatch"),
        ("- a list\n", "not a mapping"),
        ("time: [[[[\n", "cannot be read as YAML"),
    ],
)
def test_a_bad_settings_file_is_one_line_naming_it(tmp_path, text, says):
    path = tmp_path / "slurm.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        slurm_settings(_flags(config=str(path)))
    assert says in str(caught.value) and str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_sbatch_flag_and_a_missing_settings_file_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="give KEY=VALUE"):
        slurm_settings(_flags(sbatch=["account"]))
    with pytest.raises(ConfigError, match="no such file"):
        slurm_settings(_flags(config=str(tmp_path / "absent.yaml")))


@pytest.mark.parametrize("text", ["[]", '{"a": {"job": 1, "cell": "x"}}', "{", '{"a": "b"}', "\xff"])
def test_a_damaged_record_of_the_jobs_is_one_line_and_left_alone(tmp_path, text):
    path = tmp_path / "jobs.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match="move it aside"):
        read_records(path)
    assert path.read_bytes() == text.encode("latin-1")


def test_squeue_answers_are_read_as_states(monkeypatch):
    def fake(out: str, err: str = "", code: int = 0):
        done = subprocess.CompletedProcess([], code, out, err)
        monkeypatch.setattr(slurm_queue.subprocess, "run", lambda *a, **k: done)

    fake("7_0|RUNNING\n7_1|CANCELLED\n")
    states = slurm_queue.job_states(["7_0", "7_1", "7_2"])
    assert states == {"7_0": "RUNNING", "7_1": "CANCELLED", "7_2": slurm_queue.GONE}
    assert [slurm_queue.active(s) for s in states.values()] == [True, False, False]
    fake("", "slurm_load_jobs error: Invalid job id specified", 1)
    assert slurm_queue.job_states(["7_0"]) == {"7_0": slurm_queue.GONE}
    fake("", "slurm_load_jobs error: Unable to contact slurm controller", 1)
    with pytest.raises(slurm_queue.QueueUnreadable, match="Unable to contact"):
        slurm_queue.job_states(["7_0"])


def test_jobs_get_a_gpu_each_and_never_more_jobs_than_devices_unless_asked(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in local.job_slots(2, None, False)] == ["0", "1"]
    with pytest.raises(ConfigError, match="has 2 GPUs.*--share-devices"):
        local.job_slots(3, None, False)
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in local.job_slots(3, None, True)] == ["0", "1", "0"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in local.job_slots(2, None, False)] == ["4", "6"]
    with pytest.raises(ConfigError, match="--device cuda:1"):
        local.job_slots(2, "cuda:1", False)


def test_on_a_cpu_each_job_gets_its_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(local.os, "sched_getaffinity", lambda pid: set(range(8)))
    assert [s.threads for s in local.job_slots(2, "cpu", False)] == [4, 4]
    assert local.job_slots(3, "cpu", False)[0].env == {"OMP_NUM_THREADS": "2"}
    with pytest.raises(ConfigError, match="has 8 cores"):
        local.job_slots(9, "cpu", False)


# ----------------------------------------------------------------------------- stopping local jobs

# A build of the smoke grid with two local jobs, its profile shrunk as the tests shrink it, in a
# process of its own that the test can signal.
BUILD = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
import pytest
from conftest import isolate_build
import build
mp = pytest.MonkeyPatch()
isolate_build(mp, __import__("pathlib").Path({work!r}), {grid!r})
sys.exit(build.main(["--profile", "smoke", "--data-dir", {data!r}, "--no-pdf", "--train-missing", "--jobs", "2"]))
"""
LONG = {
    "data": {"val_size": 100, "train_subset": 192, "val_subset": 64, "test_subset": 200},
    "train": {"epochs": 20, "batch_size": 64, "milestones": (10,)},
}


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in status.lower()


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "kill -9"])
def test_stopping_the_build_stops_every_job_and_keeps_their_checkpoints(tmp_path, tiny_cifar, how):
    script = BUILD.format(
        root=str(ROOT), tests=str(ROOT / "tests"), work=str(tmp_path), grid=LONG, data=str(tiny_cifar)
    )
    build = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL
    )
    staging = [
        tmp_path / "runs" / "smoke" / m / ".training" / "checkpoint.pt" for m in ("baseline", "cutmix")
    ]
    deadline = time.monotonic() + 120
    while not all(p.exists() for p in staging) and time.monotonic() < deadline:
        time.sleep(0.1)
    jobs = _children(build.pid)
    try:
        assert all(p.exists() for p in staging) and len(jobs) == 2
        if how == "ctrl-c":
            os.killpg(build.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole foreground group
        else:
            os.kill(build.pid, signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
        code = build.wait(timeout=60)
        assert code == {"ctrl-c": 130, "sigterm": 143, "kill -9": -9}[how]
        deadline = time.monotonic() + 30
        while any(_alive(j) for j in jobs) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(j) for j in jobs), "a job outlived its build"
    finally:
        for pid in [build.pid, *jobs]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    import torch

    for path in staging:  # each job's last checkpoint is whole and loadable
        assert torch.load(path, weights_only=True)["epoch"] >= 1
