"""The portable GPU job at tiny scale on the CPU: packing, the bundle, job 1 and job 2 as a
slot runs them (each in a "machine" folder that receives only job/ and its own part), the results
archive, and `build.py import` with every refusal. gpu/rehearse.sh does the same with the real
dataset and the smoke profile."""

from __future__ import annotations

import ast
import io
import json
import shutil
import subprocess
import sys
import tarfile
import time
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
from conftest import isolate_build
from hypothesis import given
from hypothesis import strategies as st

import build
from pipeline import config
from pipeline.digests import bytes_digest
from pipeline.gpujob import jobarchive, pack, projection, selfcheck
from pipeline.gpujob.bundle import code_files, data_arrays
from pipeline.precision import resolve_precision

ROOT = Path(__file__).resolve().parent.parent
TINY = {
    "data": {"val_size": 100, "train_subset": 96, "val_subset": 48, "test_subset": 200},
    "train": {"epochs": 3, "batch_size": 16, "milestones": (1,)},  # epoch 2 is the probed one
}


def _isolate(mp: pytest.MonkeyPatch, root: Path) -> None:
    isolate_build(mp, root, TINY)


def _upload(bundle: Path, machine: Path, part: int) -> None:
    """What a slot's carry does: job/ and one part replace those folders there; the rest stays."""
    for name in ("job", f"part{part}"):
        shutil.rmtree(machine / name, ignore_errors=True)
        shutil.copytree(bundle / name, machine / name)


def _job(machine: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run.py", *args], cwd=machine / "job", capture_output=True, text=True, timeout=600
    )


def _bundle(root: Path, data: Path) -> Path:
    """build.py bundle of the tiny smoke profile into root/bundle."""
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, root)
        args = ["bundle", "--profile", "smoke", "--data-dir", str(data), "--out", str(root / "bundle")]
        assert build.main(args) == 0
    return root / "bundle"


@pytest.fixture(scope="module")
def job(tmp_path_factory, tiny_cifar):
    """A tiny smoke bundle, job 1 (store part 1), then job 2 on a machine that never received part 1."""
    root = tmp_path_factory.mktemp("job")
    bundle, machine = _bundle(root, tiny_cifar), root / "machine"
    _upload(bundle, machine, 1)
    first = _job(machine, "--part-only", "1", "--out", str(root / "out1"))
    assert first.returncode == 0, first.stdout + first.stderr
    shutil.rmtree(machine / "part1")  # job 2 uploads only part 2
    _upload(bundle, machine, 2)
    # one trainer after the other, as on a GPU: the projection then counts the model still to come
    second = _job(machine, "--out", str(root / "out2"), "--time-limit", "600", "--sharing", "sequential")
    assert second.returncode == 0, second.stdout + second.stderr
    return root


@pytest.fixture
def ws(job, monkeypatch):
    _isolate(monkeypatch, job)
    shutil.rmtree(job / "frozen", ignore_errors=True)
    return job


# ----------------------------------------------------------------------------- packing


def test_mosaics_round_trip_exactly_also_for_a_partial_last_row():
    images = np.random.default_rng(0).integers(0, 256, (pack.COLUMNS + 7, 3, 32, 32), dtype=np.uint8)
    assert np.array_equal(pack.unmosaic(pack.mosaic(images), len(images)), images)
    back = pack.decode(pack.encode(images), len(images), "test")
    assert np.array_equal(back, images)


def test_parts_are_balanced_and_a_dataset_too_big_for_two_parts_is_refused():
    assert pack.assign_parts([10, 10, 10, 10]) == [1, 1, 2, 2]
    assert pack.assign_parts([30, 5, 5, 5, 5]) == [1, 2, 2, 2, 2]
    with pytest.raises(pack.PackError, match="more than 2 parts"):
        pack.assign_parts([70, 70, 70], limit=100)


def _tar(add) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        add(tar)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["symlink", "folder", "parent", "other name"])
def test_a_part_with_anything_but_webp_members_is_refused(kind):
    def add(tar):
        info = tarfile.TarInfo({"parent": "../x.webp", "other name": "run.py"}.get(kind, "train-000.webp"))
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        if kind == "folder":
            info.type = tarfile.DIRTYPE
        tar.addfile(info, io.BytesIO(b""))

    with pytest.raises(pack.PackError, match="which no bundle writes"):
        pack.read_members(_tar(add), "part 1")


@given(st.binary(max_size=2048))
def test_arbitrary_bytes_as_a_part_are_one_clear_error(data):
    try:
        members = pack.read_members(data, "part 1")
    except pack.PackError:
        return
    with pytest.raises(pack.PackError):
        pack.unpack(members, {"train": 1, "test": 1})


# ----------------------------------------------------------------------------- the bundle


def test_the_bundle_holds_two_parts_that_round_trip_and_the_digests_of_the_data(job, tiny_cifar):
    bundle = json.loads((job / "bundle" / "job" / "bundle.json").read_text())
    assert [p["file"] for p in bundle["parts"]] == ["part1/cifar100-1.tar", "part2/cifar100-2.tar"]
    members = {}
    for number in (1, 2):
        data = (job / "bundle" / f"part{number}" / f"cifar100-{number}.tar").read_bytes()
        assert len(data) < pack.MAX_PART_BYTES and bytes_digest(data) == bundle["parts"][number - 1]["sha256"]
        members |= pack.read_members(data, f"part {number}")
    arrays, _, source = data_arrays(tiny_cifar)
    back = pack.unpack(members, bundle["sizes"])
    assert source == "synthetic" and all(np.array_equal(back[s], arrays[s]) for s in pack.SPLITS)
    assert (
        bundle["configs"]["baseline"]["train"]["epochs"] == TINY["train"]["epochs"]
    )  # the profile's config, frozen into the bundle
    assert (job / "bundle" / "job" / "vendor").glob("captum-*.zip")


def test_bundle_refuses_a_folder_it_did_not_make(tmp_path, tiny_cifar, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    assert (
        build.main(["bundle", "--profile", "smoke", "--data-dir", str(tiny_cifar), "--out", str(tmp_path)])
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not made by build.py" in err
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def _pipeline_imports(source: str) -> list[str]:
    """Every statement of a file that imports from pipeline/, at the top and inside functions alike."""
    return [
        ast.unparse(node)
        for node in ast.walk(ast.parse(source))
        if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pipeline")
        or (isinstance(node, ast.Import) and any(a.name.split(".")[0] == "pipeline" for a in node.names))
    ]


def test_the_bundle_code_holds_every_module_the_job_imports(tmp_path):
    """The GPU machine has only job/: every import of the driver, lazy ones and those of
    pipeline/'s subpackages included, must find its module there, not in this checkout."""
    job = tmp_path / "job"
    for name, data in code_files().items():
        (job / name).parent.mkdir(parents=True, exist_ok=True)
        (job / name).write_bytes(data)
    statements = _pipeline_imports((job / "run.py").read_text())
    assert any("pipeline.gpujob" in s for s in statements) and any("pipeline.train" in s for s in statements)
    script = "\n".join(
        [
            "import sys",
            "from pathlib import Path",
            # neither this checkout on the path nor its editable install's finder: only job/
            f"sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path({str(ROOT)!r})]",
            "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]",
            "import run",  # the driver as `python3 run.py` starts it in job/
            *statements,
            "print('\\n'.join(m.__file__ for n, m in sys.modules.items() if n.split('.')[0] == 'pipeline'))",
            TOP_LEVEL,
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=job, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    loaded = [Path(f).resolve() for f in done.stdout.split() if not f.startswith("top:")]
    assert Path(job / "pipeline" / "gpujob" / "jobarchive.py").resolve() in loaded
    assert [f for f in loaded if not f.is_relative_to(job.resolve())] == []
    # Beyond the standard library, only what the GPU machine must have (run.py's NEEDS) and what
    # those distributions require: not what they happen to import here because it is installed.
    import importlib.metadata

    installed = set(importlib.metadata.packages_distributions())  # interpreter-made names are not
    extra = _top_level(done.stdout) & installed - _required_modules(MACHINE) - {"pipeline", "captum"}
    assert extra == set(), f"the job imports {sorted(extra)}, which a GPU machine need not have"


MACHINE = ("numpy", "pillow", "torch", "torchvision", "matplotlib", "tqdm")  # distributions: run.py's NEEDS

# the top-level names of the modules loaded beyond the standard library, one "top:NAME" a line
TOP_LEVEL = (
    "print('\\n'.join(sorted({'top:' + n.split('.')[0] for n in sys.modules} - "
    "{'top:' + n for n in sys.stdlib_module_names})))"
)


def _top_level(stdout: str) -> set[str]:
    return {line[4:] for line in stdout.split() if line.startswith("top:")}


def _required_modules(distributions: tuple[str, ...]) -> set[str]:
    """The top-level modules of these distributions and of everything they require, extras left out."""
    import importlib.metadata as md

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [canonicalize_name(d) for d in distributions]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.distribution(name).requires or []
        except md.PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return {
        module
        for module, owners in md.packages_distributions().items()
        if any(canonicalize_name(d) in seen for d in owners)
    }


def test_a_machine_without_a_needed_package_is_told_in_one_line(job, tmp_path):
    _second_machine(job, tmp_path)
    hide = (
        "import importlib.util as u, runpy, sys\n"
        "real = u.find_spec\n"
        "u.find_spec = lambda name, *a: None if name == 'matplotlib' else real(name, *a)\n"
        "sys.argv = ['run.py']\n"
        "runpy.run_path('run.py', run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", hide], cwd=tmp_path / "job", capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "lacks matplotlib" in done.stderr and "pip install" in done.stderr


# the top-level names of the modules loaded beyond the standard library, one "top:NAME" a line
TOP_LEVEL = (
    "print('\\n'.join(sorted({'top:' + n.split('.')[0] for n in sys.modules} - "
    "{'top:' + n for n in sys.stdlib_module_names})))"
)


def _top_level(stdout: str) -> set[str]:
    return {line[4:] for line in stdout.split() if line.startswith("top:")}


# ----------------------------------------------------------------------------- the jobs


def test_job_2_trains_both_models_and_returns_progress_and_one_archive(job):
    out = job / "out2"
    assert {p.name for p in out.iterdir()} == {
        "run.log",
        "nvidia-smi.txt",
        "history-baseline.json",
        "history-cutmix.json",
        "train-baseline.log",
        "train-cutmix.log",
        "results-smoke.tar",
    }
    log = (out / "run.log").read_text()
    chosen = resolve_precision("auto", "cpu")  # bf16 where this CPU has native bf16, else fp32
    assert f"self-check {chosen}: 20 steps of each model and an evaluation batch with Grad-CAM" in log
    assert "sharing: baseline, cutmix one after the other" in log
    steady = next(line for line in log.splitlines() if "steady rate:" in line)
    assert "baseline" in steady and "(epoch 2)" in steady and "then cutmix alone" in steady
    manifest, members = jobarchive.read_archive(out / "results-smoke.tar")
    assert manifest["status"] == "complete" and manifest["models"] == ["baseline", "cutmix"]
    used = manifest["used"]
    assert used["precision"] == chosen and used["compile"] is False and used["sharing"] == "sequential"
    assert used["self_check"][0]["ok"] and set(used["self_check"][0]["models"]) == {"baseline", "cutmix"}
    assert {"python", "torch", "torchvision", "numpy"} <= set(manifest["versions"])
    assert len(json.loads(members["baseline/history.json"])["epochs"]) == 3


def test_job_2_without_part_1_says_how_to_bring_it(job, tmp_path):
    _upload(job / "bundle", tmp_path, 2)
    done = _job(tmp_path, "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and "part 1 is not here" in done.stdout and "--part-only 1" in done.stdout


def test_a_damaged_part_is_refused_before_anything_runs(job, tmp_path):
    _upload(job / "bundle", tmp_path, 1)
    part = tmp_path / "part1" / "cifar100-1.tar"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 1
    part.write_bytes(bytes(data))
    done = _job(tmp_path, "--part-only", "1", "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and "is damaged" in done.stdout and not (tmp_path / "store").exists()


def test_a_job_out_of_time_stops_cleanly_and_returns_what_it_measured(job, tmp_path):
    _second_machine(job, tmp_path)
    done = _job(tmp_path, "--out", str(tmp_path / "out"), "--time-limit", "1", "--models", "baseline")
    assert done.returncode == 3, done.stdout + done.stderr
    manifest, _ = jobarchive.read_archive(tmp_path / "out" / "results-smoke-baseline.tar")
    assert manifest["status"] == "stopped" and "time limit" in manifest["message"]
    assert manifest["used"]["self_check"][0]["models"]["baseline"]["images_per_s"] > 0


def _second_machine(job: Path, into: Path) -> None:
    """A machine as job 2 left it: job/, part 2, the stored part 1 and the verified data and runs."""
    for name in ("job", "part2", "store", "work"):
        shutil.copytree(job / "machine" / name, into / name)


def test_a_damaged_checkpoint_on_the_machine_fails_the_job_in_one_line_and_is_archived(job, tmp_path):
    _second_machine(job, tmp_path)
    (tmp_path / "work" / "runs" / "baseline" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    done = _job(tmp_path, "--out", str(tmp_path / "out"), "--models", "baseline")
    assert done.returncode == 1 and "failed: the baseline trainer exited with 1" in done.stdout
    trainer_log = (tmp_path / "out" / "train-baseline.log").read_text()
    assert trainer_log.count("\n") == 1 and "checkpoint.pt" in trainer_log and "Traceback" not in trainer_log
    manifest, _ = jobarchive.read_archive(tmp_path / "out" / "results-smoke-baseline.tar")
    assert manifest["status"] == "failed"


def test_a_killed_driver_leaves_no_trainer_running(job, tmp_path):
    from test_signals import alive, children

    _second_machine(job, tmp_path)
    shutil.rmtree(tmp_path / "work" / "runs")  # train from scratch: the trainers run for a while
    proc = subprocess.Popen(
        [sys.executable, "run.py", "--out", str(tmp_path / "out")],
        cwd=tmp_path / "job", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    for line in proc.stdout:
        if line.split("] ", 1)[-1].startswith("training"):  # logged just before the trainers start
            break
    deadline = time.monotonic() + 30
    while len(trainers := children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(trainers) == 2
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while any(alive(t) for t in trainers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(t) for t in trainers), "orphaned trainers"


def test_a_trainer_whose_driver_is_gone_exits_before_it_trains(job, tmp_path):
    _second_machine(job, tmp_path)
    shutil.rmtree(tmp_path / "work" / "runs" / "baseline")
    done = subprocess.run(
        [sys.executable, "run.py", "--trainer", "baseline", "--parent", "1", "--job-token", "t"],
        cwd=tmp_path / "job", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == "" and done.stderr == ""
    assert not (tmp_path / "work" / "runs" / "baseline").exists()


def test_a_compiled_job_projects_past_its_compile_and_finishes(job, tmp_path):
    """--compile on, on the CPU: every graph is built in the trainer's first epoch, the projection
    comes from its second, and a job that fits is not stopped."""
    _second_machine(job, tmp_path)
    shutil.rmtree(tmp_path / "work" / "runs")
    args = ["--models", "baseline", "--compile", "on", "--precision", "fp32", "--time-limit", "900"]
    done = _job(tmp_path, "--out", str(tmp_path / "out"), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    log = (tmp_path / "out" / "run.log").read_text()
    assert "self-check compiled: baseline" in log and "training baseline in fp32, compiled" in log
    steady = next(line for line in log.splitlines() if "steady rate:" in line)
    assert "baseline" in steady and "(epoch 2)" in steady
    manifest, members = jobarchive.read_archive(tmp_path / "out" / "results-smoke-baseline.tar")
    assert manifest["status"] == "complete" and manifest["used"]["compile"] is True
    assert len(json.loads(members["baseline/history.json"])["epochs"]) == 3


# ----------------------------------------------------------------------------- the self-check


def test_precisions_are_tried_best_first_with_fp32_to_fall_back_to():
    assert selfcheck.candidates("cuda", "auto") == ["bf16", "fp32"]
    assert selfcheck.candidates("cuda", "fp32") == ["fp32"]
    assert selfcheck.candidates("cpu", "bf16") == ["bf16"]
    assert selfcheck.candidates("cpu", "auto")[-1] == "fp32"


EAGER = {"images_per_s": 1000.0, "warmup_seconds": 1.0}


def _choose(monkeypatch, tiny_cifar, compile: str, compiled, failing=(), images=100_000):
    """choose_setup for both tiny models with self_check replaced: eager checks return EAGER,
    compiled ones `compiled` (raised when an exception); precisions in `failing` fail eager."""
    import torch

    import pipeline.train
    from pipeline.data import load_splits

    def self_check(cfg, train, device, *, compile, precision, steps=20, short_batch=0):
        if precision in failing:
            raise FloatingPointError("the loss became nan\nsecond line")
        if not compile:
            return EAGER
        if isinstance(compiled, Exception):
            raise compiled
        return compiled

    monkeypatch.setattr(pipeline.train, "self_check", self_check)
    monkeypatch.setattr(selfcheck, "gradcam_check", lambda *a: None)
    monkeypatch.setattr(selfcheck, "candidates", lambda *a: ["bf16", "fp32"])
    monkeypatch.setitem(config.PROFILE_OVERRIDES, "smoke", TINY)
    configs = {m: config.run_config("smoke", m) for m in ("baseline", "cutmix")}
    lines: list[str] = []
    splits = load_splits(configs["baseline"].data, tiny_cifar)
    args = Namespace(precision="auto", compile=compile)
    return selfcheck.choose_setup(configs, splits, torch.device("cpu"), args, images, lines.append), lines


def test_the_self_check_falls_back_to_the_next_precision_and_records_each_try(monkeypatch, tiny_cifar):
    setup, lines = _choose(monkeypatch, tiny_cifar, "off", None, failing=("bf16",))
    assert setup["precision"] == "fp32" and setup["compile"] is False
    assert setup["self_check"][0] == {
        "precision": "bf16",
        "compile": False,
        "ok": False,
        "error": "FloatingPointError: the loss became nan",
    }
    assert setup["self_check"][1]["models"] == {"baseline": EAGER, "cutmix": EAGER}
    assert "falling back" in lines[0] and len(setup["self_check"]) == 2  # off: no compiled try


def test_a_compiler_error_leaves_the_job_eager(monkeypatch, tiny_cifar):
    setup, lines = _choose(monkeypatch, tiny_cifar, "on", RuntimeError("inductor failed\nmore"))
    assert setup["precision"] == "bf16" and setup["compile"] is False
    assert setup["self_check"][1] == {
        "precision": "bf16",
        "compile": True,
        "ok": False,
        "error": "RuntimeError: inductor failed",
    }
    assert "compiled: failed" in lines[-1]


@pytest.mark.parametrize(
    ("choice", "warmup", "used"),
    [
        ("auto", 10.0, True),  # 100 s eager per model against 80 + 10 compiled
        ("auto", 30.0, False),  # 80 + 30 > 100: compiling does not pay
        ("on", 30.0, True),  # on compiles whatever it costs
    ],
)
def test_compiling_is_chosen_only_when_it_pays_unless_asked_for(
    monkeypatch, tiny_cifar, choice, warmup, used
):
    compiled = {"images_per_s": 1250.0, "warmup_seconds": warmup}
    setup, lines = _choose(monkeypatch, tiny_cifar, choice, compiled)
    assert setup["compile"] is used and setup["self_check"][1]["models"]["cutmix"] == compiled
    assert lines[-1].endswith("compiled" if used else "eager (compiling does not pay)")


def test_every_trainer_pays_the_graphs_the_self_check_built_once():
    checks = {"baseline": {"images_per_s": 100.0, "warmup_seconds": 60.0}}
    checks["cutmix"] = {"images_per_s": 100.0, "warmup_seconds": 0.0}  # reused the baseline's graphs
    assert selfcheck.training_seconds(checks, 1000) == 2 * (10 + 60)


# ----------------------------------------------------------------------------- the projection


def _history(run: Path, rows: list[dict], probe: dict | None) -> None:
    run.mkdir(parents=True)
    (run / "history.json").write_text(json.dumps({"epochs": rows}))
    if probe is not None:
        (run / "probe.json").write_text(json.dumps(probe))


PAPER_SIZES = {"train": 45_000, "val": 5_000, "test": 10_000}
COMPILING = {"epoch": 1, "seconds": 300.0, "images_per_s": 160.0}  # graphs built in this epoch
STEADY = {"epoch": 2, "seconds": 50.0, "images_per_s": 1000.0}  # 45 s training, 5 s validation


def test_the_projection_counts_steady_epochs_of_this_job_not_the_compiling_one(tmp_path):
    _history(
        tmp_path / "runs" / "baseline",
        [COMPILING, STEADY],
        {"token": "t", "epoch": 2, "images_per_s": 1125.0},
    )
    configs = {m: config.run_config("paper", m) for m in ("baseline", "cutmix")}
    plan = projection.projection(tmp_path / "runs", ["baseline"], configs, PAPER_SIZES, "t")
    evaluation = projection.EVAL_SETUP + (2.5 * 10_000 + 5_000) / 1125
    epoch = 45_000 / 1125 + 5.0  # the probe's steady steps and the probed epoch's validation
    assert plan["seconds"] == pytest.approx(48 * epoch + evaluation)  # epochs 3 to 50
    assert plan["seconds"] < 3000 < 48 * COMPILING["seconds"]  # fits where epoch 1 would not
    later = projection.projection(tmp_path / "runs", ["baseline"], configs, PAPER_SIZES, "t", ["cutmix"])
    extra = projection.EVAL_SETUP + 50 * epoch + evaluation  # cutmix after it, at the same rate
    assert later["seconds"] == pytest.approx(plan["seconds"] + extra) and later["later"] == ["cutmix"]
    advice = projection.advice(plan, configs, PAPER_SIZES, 600)
    assert "2,000 s" in advice and "does not fit either" in advice


@pytest.mark.parametrize(
    "probe",
    [
        None,  # no probe yet
        {"token": "an earlier job", "epoch": 2, "images_per_s": 1125.0},  # left by another job
        {"token": "t", "epoch": 3, "images_per_s": 1125.0},  # its epoch's row is not written yet
        {"token": "t", "epoch": 2, "images_per_s": -1},  # hand-edited
        {"token": "t", "epoch": "2", "images_per_s": 1125.0},
    ],
)
def test_no_projection_from_anything_but_this_jobs_probe_and_its_epochs_row(tmp_path, probe):
    _history(tmp_path / "runs" / "baseline", [COMPILING, STEADY], probe)
    configs = {"baseline": config.run_config("paper", "baseline")}
    assert projection.projection(tmp_path / "runs", ["baseline"], configs, PAPER_SIZES, "t") is None


def test_the_probe_times_the_second_epoch_of_this_process_between_synced_steps(tmp_path, monkeypatch):
    from pipeline.gpujob import probe as probe_module

    clock, syncs = iter([10.0, 14.0]), []
    monkeypatch.setattr(probe_module.time, "perf_counter", lambda: next(clock))
    probe = probe_module.Probe(tmp_path, "t", 100, 16, lambda: syncs.append(1))  # 6 full steps, 1 short
    for epoch in (4, 5, 6):  # resumed at epoch 4: the first this process trains
        for step in range(1, 8):
            probe.on_step(epoch, step)
        probe.on_epoch({"epoch": epoch, "images_per_s": 1.0})
    written = json.loads((tmp_path / "probe.json").read_text())
    assert written == {"token": "t", "epoch": 5, "images_per_s": (6 - 2) * 16 / 4.0, "timed": "steady steps"}
    assert len(syncs) == 2  # at the end of step 2 and of step 6, the last full-size one


def test_an_epoch_too_short_to_window_is_probed_whole(tmp_path):
    from pipeline.gpujob.probe import Probe

    probe = Probe(tmp_path, "t", 20, 16, lambda: pytest.fail("no window to synchronize"))
    for epoch in (1, 2):
        probe.on_step(epoch, 1)
        probe.on_step(epoch, 2)
        probe.on_epoch({"epoch": epoch, "images_per_s": 42.0 * epoch})
    written = json.loads((tmp_path / "probe.json").read_text())
    assert written == {"token": "t", "epoch": 2, "images_per_s": 84.0, "timed": "whole epoch"}


# ----------------------------------------------------------------------------- import


def test_import_freezes_the_archive_and_the_report_builds_from_it(ws, capsys):
    archive = ws / "out2" / "results-smoke.tar"
    assert build.main(["import", str(archive), "--profile", "smoke"]) == 0
    frozen = ws / "frozen" / "smoke"
    assert {p.name for p in frozen.iterdir()} >= {"results.json", "baseline", "cutmix", "job"}
    assert (frozen / "job" / "run.log").is_file() and (frozen / "job" / "manifest.json").is_file()
    out = ws / "report"
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    assert "load baseline" in capsys.readouterr().out
    assert build.main(["check", "--profile", "smoke", "--out", str(out), "--against", "frozen"]) == 0


def _rewrite(archive: Path, dest: Path, change) -> Path:
    """A copy of the archive with change(manifest, members) applied, digests recomputed unless it says not."""
    manifest, members = jobarchive.read_archive(archive)
    members.pop("manifest.json")
    change(manifest, members)
    with tarfile.open(dest, "w") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dest


def _tamper_eval(manifest, members):
    data = bytearray(members["baseline/eval.npz"])
    data[100] ^= 1
    members["baseline/eval.npz"] = bytes(data)


def _stopped(manifest, members):
    manifest["status"], manifest["message"] = "stopped", "projected 900 s > 500 s left"


def _other_config(manifest, members):
    manifest["bundle"]["configs"]["cutmix"]["train"]["epochs"] = TINY["train"]["epochs"] + 1


def _one_model(manifest, members):
    manifest["models"] = ["baseline"]


def _short_history(manifest, members):
    doc = json.loads(members["cutmix/history.json"])
    doc["epochs"] = doc["epochs"][:1]
    members["cutmix/history.json"] = json.dumps(doc).encode()
    manifest["files"]["cutmix/history.json"] = bytes_digest(members["cutmix/history.json"])


def _other_test_images(manifest, members):
    """cutmix evaluated on another last test image: each file sound, the pair not comparable."""
    with np.load(io.BytesIO(members["cutmix/eval.npz"]), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["test_ids"][-1] += 1  # IDs of a 300-image test set: the next one is a valid test ID
    kept = np.isin(arrays["shown_ids"], arrays["test_ids"])
    arrays["shown_ids"], arrays["shown_images"] = arrays["shown_ids"][kept], arrays["shown_images"][kept]
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    members["cutmix/eval.npz"] = buffer.getvalue()
    manifest["files"]["cutmix/eval.npz"] = bytes_digest(members["cutmix/eval.npz"])


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_tamper_eval, "does not match its digest"),
        (_stopped, "did not finish (stopped: projected 900 s"),
        (_other_config, "other settings than this profile's (train.epochs"),
        (_one_model, "no archive holds cutmix"),
        (_short_history, f"cutmix has 1 of {TINY['train']['epochs']} epochs"),
        (_other_test_images, "the models' evaluations cannot be compared (test_ids differ first at"),
    ],
)
def test_import_refuses_an_archive_it_cannot_trust_in_one_line(ws, tmp_path, capsys, change, says):
    bad = _rewrite(ws / "out2" / "results-smoke.tar", tmp_path / "bad.tar", change)
    assert build.main(["import", str(bad), "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and str(bad) in err
    assert not (ws / "frozen" / "smoke").exists()


def test_import_refuses_another_profile_and_a_symlink_member(ws, tmp_path, capsys):
    archive = ws / "out2" / "results-smoke.tar"
    assert build.main(["import", str(archive), "--profile", "cpu-study"]) == 2
    assert "give --profile smoke" in capsys.readouterr().err

    def add(tar):
        info = tarfile.TarInfo("baseline/eval.npz")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)

    (tmp_path / "link.tar").write_bytes(_tar(add))
    assert build.main(["import", str(tmp_path / "link.tar"), "--profile", "smoke"]) == 2
    assert "which no GPU job writes" in capsys.readouterr().err


def test_paper_results_must_come_from_cifar_100(ws, tmp_path, monkeypatch):
    from pipeline.gpujob import jobimport
    from pipeline.gpujob.jobimport import Archive, _check_run

    monkeypatch.setattr(jobimport, "run_config", lambda profile, model: config.run_config("smoke", model))

    folder = tmp_path / "baseline"
    folder.mkdir()
    _, members = jobarchive.read_archive(ws / "out2" / "results-smoke.tar")
    for name in jobarchive.MODEL_FILES:
        (folder / name).write_bytes(members[f"baseline/{name}"])
    with pytest.raises(jobarchive.ArchiveError, match="trained on 'synthetic' data"):
        _check_run(Archive(tmp_path / "a.tar", {}, members, ["baseline"]), "baseline", folder, "paper")


@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_as_an_archive_are_one_clear_error(tmp_path, data):
    path = tmp_path / "results-smoke.tar"
    path.write_bytes(data)
    with pytest.raises(jobarchive.ArchiveError):
        jobarchive.read_archive(path)


def _hostile_archive(path: Path, **manifest) -> Path:
    jobarchive.write_archive(path, {"profile": "smoke", "status": "failed", **manifest}, {})
    return path


@pytest.mark.parametrize(
    ("manifest", "shown"),
    [
        ({"message": "\x1b[31mred\nfake line"}, "(failed: \\x1b[31mred\\nfake line)"),
        ({"status": "\x1b]0;title\x07", "message": "a\u202eb\rc"}, "(\\x1b]0;title\\x07: a\\u202eb\\rc)"),
        ({"profile": "x\x1b[2J\ny"}, "holds a 'x\\x1b[2J\\ny' job: give --profile x\\x1b[2J\\ny"),
    ],
    ids=["message", "status", "profile"],
)
def test_an_archives_own_text_is_printed_escaped_on_one_line(tmp_path, capsys, manifest, shown):
    bad = _hostile_archive(tmp_path / "results-smoke.tar", **manifest)
    assert build.main(["import", str(bad), "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and shown in err
    assert not any(c in err[:-1] for c in "\x1b\r\x07\u202e\n")


def test_printable_escapes_controls_bidi_and_what_xml_forbids_and_keeps_the_rest():
    from pipeline.printable import printable

    assert printable("\x00\x1f\x7f\x85\u2028\u202a\u2069\ud800\ufffe") == (
        "\\x00\\x1f\\x7f\\x85\\u2028\\u202a\\u2069\\ud800\\ufffe"
    )
    assert printable("CIFAR-100 · λ − 0.5 é \\ ok") == "CIFAR-100 · λ − 0.5 é \\ ok"
    assert printable(None) == "None"
