#!/usr/bin/env python3
"""The GPU job of a bundle (pipeline/gpujob/, gpu/README.md): run it from the bundle's job/ folder.

    python3 run.py --part-only 1            job 1: check part 1 and keep it in ../store/ for job 2
    python3 run.py --time-limit 570         job 2: find the parts, unpack, verify, self-check,
                                            train both models (one after the other on a GPU),
                                            evaluate, archive

Job 2 unpacks the parts into an ordinary cifar-100-python folder and checks every array against the
content digests in bundle.json (those of ../shared/data/README.md). Its self-check then runs, for
each precision in order (bf16 first on CUDA), 20 eager training steps of every model with the
epoch's short last batch and a validation batch, and an evaluation batch with Grad-CAM, and keeps
the first precision where all of it runs; with --compile auto it compiles only when the check shows
that compiling pays (pipeline/gpujob/selfcheck.py). It trains each model of bundle.json in its own
process through pipeline.train.train_run with the config bundle.json holds, one after the other
on a GPU (--sharing), and evaluates each through pipeline.evaluate.evaluate_weights, as build.py
does. Results go to $OUT (else ../results): run.log and each model's history after every epoch,
so that a job stopped by its time limit still returns its throughput, and results-<profile>.tar
at the end (pipeline/gpujob/jobarchive.py).

Once a trainer has timed its second epoch (pipeline/gpujob/probe.py) the driver projects the time
the rest needs (pipeline/gpujob/projection.py); when that exceeds the time left, it stops the
trainers, archives what it has and says what this machine can do. It never changes a setting of
the run to fit.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

JOB = Path(__file__).resolve().parent  # job/: this script, pipeline/, vendor/, data/, bundle.json
ROOT = JOB.parent  # the bundle: part1/, part2/, and what the job writes: store/, work/, results/
WORK = ROOT / "work"
sys.path[:0] = [str(JOB), *(str(z) for z in sorted((JOB / "vendor").glob("*.zip")))]  # captum, zipped
# What the machine must have; the vendored captum imports matplotlib and tqdm. Checked before
# anything imports them.
NEEDS = ("numpy", "PIL", "torch", "torchvision", "matplotlib", "tqdm")
if missing := [name for name in NEEDS if importlib.util.find_spec(name) is None]:
    sys.exit(
        f"run.py: error: this machine's Python ({sys.executable}) lacks {', '.join(missing)}: install "
        "it, or carry its wheel and pip install it first (gpu/README.md: what the job needs)"
    )

from pipeline.digests import bytes_digest, content_digests  # noqa: E402 (after the paths above)
from pipeline.errors import StudyError  # noqa: E402
from pipeline.files import write_bytes  # noqa: E402
from pipeline.gpujob import jobarchive, pack  # noqa: E402
from pipeline.gpujob.probe import Probe  # noqa: E402
from pipeline.gpujob.projection import advice, history_rows, projection  # noqa: E402
from pipeline.gpujob.selfcheck import choose_setup  # noqa: E402
from pipeline.parentdeath import die_with_parent  # noqa: E402

ARCHIVE_MARGIN = 30.0  # seconds kept for stopping the trainers and writing the archive
EXIT_STOPPED = 3  # the projection did not fit: stopped cleanly, archive written


class JobError(StudyError, RuntimeError):
    """The job cannot go on; the message says why and what to do."""


# ----------------------------------------------------------------------------- the log


class Log:
    """Lines with the seconds since the start, on stdout and in OUT/run.log (flushed each line)."""

    def __init__(self, out: Path, start: float):
        self.path, self.start = out / "run.log", start
        out.mkdir(parents=True, exist_ok=True)

    def __call__(self, message: str) -> None:
        line = f"[{time.monotonic() - self.start:7.1f} s] {message}"
        print(line, flush=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


# ----------------------------------------------------------------------------- bundle and parts


def load_bundle() -> dict:
    try:
        bundle = json.loads((JOB / "bundle.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JobError(
            f"{JOB} is not a bundle's job folder (no bundle.json): make one with python build.py bundle, "
            "and run its job/run.py"
        ) from None
    except (OSError, ValueError) as exc:
        raise JobError(
            f"{JOB / 'bundle.json'} cannot be read ({type(exc).__name__}): make the bundle again"
        ) from None
    if bundle.get("schema") != 1:
        raise JobError(
            f"{JOB / 'bundle.json'} is of another schema: make the bundle with this driver's build.py"
        )
    return bundle


def part_places(bundle: dict, number: int) -> list[Path]:
    """Where part `number` may be: uploaded beside job/, or kept by an earlier job in store/."""
    name = Path(bundle["parts"][number - 1]["file"]).name
    return [ROOT / f"part{number}" / name, ROOT / "store" / name]


def verified_part(bundle: dict, number: int) -> tuple[Path, bytes]:
    """The first place holding part `number` with the bytes bundle.json names."""
    if not 1 <= number <= len(bundle["parts"]):
        raise JobError(f"--part-only {number}: this bundle has parts 1 to {len(bundle['parts'])}")
    want = bundle["parts"][number - 1]["sha256"]
    for place in part_places(bundle, number):
        if place.is_file():
            data = place.read_bytes()
            if bytes_digest(data) == want:
                return place, data
            raise JobError(
                f"{place} is damaged (its sha256 is not bundle.json's): upload part {number} again"
            )
    raise JobError(
        f"part {number} is not here ({' nor '.join(str(p) for p in part_places(bundle, number))}): upload "
        f"part{number}/ with this job, or run `python3 run.py --part-only {number}` in a job just before this "
        "one (a machine keeps its files only briefly between jobs)"
    )


def store_part(bundle: dict, number: int, log: Log) -> None:
    """Job 1: check part `number` and keep it in store/, where the next job finds it."""
    place, data = verified_part(bundle, number)
    kept = ROOT / "store" / place.name
    if place != kept:
        write_bytes(kept, data, elsewhere="")
    log(f"part {number}: {len(data) / 2**20:.1f} MiB, sha256 as bundle.json, kept in {kept}")


# ----------------------------------------------------------------------------- the dataset


def unpacked_arrays(bundle: dict, log: Log) -> dict:
    """Every split's images and labels from the parts, each array checked against bundle.json's digests."""
    import numpy as np

    members: dict[str, bytes] = {}
    for number in range(1, len(bundle["parts"]) + 1):
        place, data = verified_part(bundle, number)
        members |= pack.read_members(data, str(place))
    arrays = pack.unpack(members, bundle["sizes"])
    with np.load(JOB / "data" / "labels.npz", allow_pickle=False) as labels:
        arrays |= {k: labels[k].astype(np.int64) for k in labels.files}
    for split in pack.SPLITS:
        got = content_digests(arrays[split], arrays[f"{split}_fine"], arrays[f"{split}_coarse"])
        if got != bundle["digests"][split]:
            raise JobError(
                f"the unpacked {split} split does not match bundle.json's digests: make the bundle again"
            )
    where = "../shared/data/README.md's" if bundle.get("digests_as_readme") else "the bundle's"
    log(f"unpacked {sum(len(arrays[s]) for s in pack.SPLITS):,} images; every array matches {where} digests")
    return arrays


def prepare_data(bundle: dict, log: Log) -> Path:
    """WORK/cifar-100-python, written from the parts once (its VERIFIED file records their digests)."""
    folder = WORK / "cifar-100-python"
    stamp = json.dumps([p["sha256"] for p in bundle["parts"]])
    if (folder / "VERIFIED").is_file() and (folder / "VERIFIED").read_text() == stamp:
        log(f"data: {folder} was unpacked and verified by an earlier job")
        return folder
    arrays = unpacked_arrays(bundle, log)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for split in pack.SPLITS:
        pack.write_cifar_file(
            folder / split, arrays[split], arrays[f"{split}_fine"], arrays[f"{split}_coarse"], split
        )
    shutil.copyfile(JOB / "data" / "meta", folder / "meta")
    if bundle["data_source"] == "synthetic":
        from pipeline.data import SYNTHETIC_MARKER

        (folder / SYNTHETIC_MARKER).write_text("generated stand-in data, packed into a bundle\n")
    (folder / "VERIFIED").write_text(stamp)
    return folder


def runs_for(bundle: dict, log: Log) -> None:
    """WORK/runs/ holds only checkpoints of this bundle's configs: an earlier job's of the same
    bundle are resumed by train_run, another bundle's are removed (they would be refused)."""
    stamp = json.dumps({"configs": bundle["configs"], "git_commit": bundle["git_commit"]}, sort_keys=True)
    marker = WORK / "runs" / "BUNDLE"
    if marker.is_file() and marker.read_text() == stamp:
        kept = sorted(p.parent.name for p in (WORK / "runs").glob("*/checkpoint.pt"))
        if kept:
            log(f"resuming from the checkpoints an earlier job left: {', '.join(kept)}")
        return
    shutil.rmtree(WORK / "runs", ignore_errors=True)
    marker.parent.mkdir(parents=True)
    marker.write_text(stamp)


# ----------------------------------------------------------------------------- the machine


def versions() -> dict:
    import matplotlib
    import numpy
    import PIL
    import torch
    import torchvision
    import tqdm

    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "matplotlib": matplotlib.__version__,
        "tqdm": tqdm.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "device": torch.cuda.get_device_name(0) if cuda else platform.processor() or "cpu",
    }


def nvidia_smi(out: Path) -> None:
    """nvidia-smi's report into OUT/nvidia-smi.txt, or why there is none."""
    try:
        done = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30)
        text = done.stdout or done.stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        text = f"nvidia-smi could not run: {exc}\n"
    (out / "nvidia-smi.txt").write_text(text, encoding="utf-8")


# ----------------------------------------------------------------------------- the trainers


def start_trainers(
    models: list[str], setup: dict, args, out: Path, token: str
) -> dict[str, subprocess.Popen]:
    """One process per model, each with its share of the cores; no preexec_fn (between fork and
    exec in a process with threads and CUDA it can deadlock: the subprocess docs): each trainer
    asks for SIGTERM at the driver's death itself, then checks the driver is still its parent."""
    threads = max(1, (os.cpu_count() or 2) // len(models))
    trainers = {}
    for model in models:
        command = [
            sys.executable,
            str(JOB / "run.py"),
            "--trainer",
            model,
            "--precision",
            setup["precision"],
            "--compile",
            "on" if setup["compile"] else "off",
            "--threads",
            str(threads),
            "--parent",
            str(os.getpid()),
            "--job-token",
            token,
        ]
        if args.device:
            command += ["--device", args.device]
        with open(out / f"train-{model}.log", "wb") as log:
            trainers[model] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    return trainers


def trainer(args) -> int:
    """One model: train_run (resuming a checkpoint an earlier job left), then evaluate_weights, as build.py."""
    # A trainer outlives no killed driver; SIGTERM, as stop() sends, rather than kill -9.
    die_with_parent(args.parent, signal.SIGTERM)
    import torch

    from pipeline.config import run_config_from_dict
    from pipeline.data import load_splits
    from pipeline.evaluate import evaluate_weights
    from pipeline.train import synchronize, train_run

    torch.set_num_threads(args.threads)
    cfg = run_config_from_dict(load_bundle()["configs"][args.trainer])
    run_dir, data = WORK / "runs" / args.trainer, WORK / "cifar-100-python"
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    splits = load_splits(cfg.data, data)
    probe = Probe(
        run_dir, args.job_token, len(splits.train), cfg.train.batch_size, lambda: synchronize(device)
    )
    train_run(
        cfg,
        splits,
        run_dir,
        device,
        compile=args.compile == "on",
        precision=args.precision,
        on_step=probe.on_step,
        on_epoch=probe.on_epoch,
    )
    evaluate_weights(
        cfg, run_dir / "checkpoint.pt", data, run_dir, device_name=str(device), precision=args.precision
    )
    return 0


# ----------------------------------------------------------------------------- watching them


def stop(trainers: dict[str, subprocess.Popen]) -> None:
    for proc in trainers.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in trainers.values():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def watch(groups: list[list[str]], setup: dict, args, job: dict, out: Path, log: Log) -> tuple[str, str]:
    """Train the groups one after the other, the models of a group at once; copy each history to
    OUT after every epoch and log it; stop everything when the projection or the clock says the job
    cannot finish. (status, message) when the trainers are done or stopped."""
    seen = {m: 0 for group in groups for m in group}
    projected = False
    for number, group in enumerate(groups):
        later = [m for g in groups[number + 1 :] for m in g]
        trainers = start_trainers(group, setup, args, out, job["token"])
        while True:
            _copy_histories(group, seen, job["configs"], out, log)
            failed = [m for m, p in trainers.items() if p.poll() not in (None, 0)]
            if failed:
                stop(trainers)
                code = trainers[failed[0]].returncode
                return "failed", f"the {failed[0]} trainer exited with {code}: see train-{failed[0]}.log"
            if all(p.poll() == 0 for p in trainers.values()):
                break
            if not projected and (
                plan := projection(WORK / "runs", group, job["configs"], job["sizes"], job["token"], later)
            ):
                projected = True
                stopped = _judge(plan, job, log)
                if stopped:
                    stop(trainers)
                    return "stopped", stopped
            if job["deadline"] is not None and time.monotonic() > job["deadline"] - ARCHIVE_MARGIN:
                stop(trainers)
                return (
                    "stopped",
                    "the time limit came before the trainers finished (the projection was too optimistic)",
                )
            time.sleep(1.0)
        _copy_histories(group, seen, job["configs"], out, log)
    return jobarchive.COMPLETE, f"{' and '.join(seen)} trained and evaluated"


def _copy_histories(models: list[str], seen: dict, configs: dict, out: Path, log: Log) -> None:
    """Each new epoch of these models into the log, and their history.json into OUT."""
    for model in models:
        rows = history_rows(WORK / "runs" / model)
        for row in rows[seen[model] :]:
            log(
                f"{model} epoch {row['epoch']}/{configs[model].train.epochs}: {row['images_per_s']:,.0f} img/s, "
                f"{row['seconds']:.1f} s, train acc {row['train_acc']:.3f}, val acc {row['val_acc']:.3f}"
            )
        if len(rows) > seen[model]:
            write_bytes(out / f"history-{model}.json", (WORK / "runs" / model / "history.json").read_bytes())
        seen[model] = len(rows)


def _judge(plan: dict, job: dict, log: Log) -> str | None:
    """Log the projection; the reason to stop when it does not fit in the time left, else None."""
    left = None if job["deadline"] is None else job["deadline"] - time.monotonic() - ARCHIVE_MARGIN
    rates = ", ".join(f"{m} {p['rate']:,.0f} img/s (epoch {p['epoch']})" for m, p in plan["models"].items())
    then = f", then {' and '.join(plan['later'])} alone" if plan["later"] else ""
    log(
        f"steady rate: {rates}; the rest{then} needs about {plan['seconds']:,.0f} s"
        + ("" if left is None else f", {left:,.0f} s are left")
    )
    if left is None or plan["seconds"] <= left:
        return None
    return f"projected {plan['seconds']:,.0f} s > {left:,.0f} s left; " + advice(
        plan, job["configs"], job["sizes"], job["limit"]
    )


def sharing(choice: str, device, models: list[str], log: Log) -> list[list[str]]:
    """How the trainers share the device: groups trained one after the other, the models of a
    group at once. Without CUDA MPS, processes on one GPU take turns on it (time slices: no two
    contexts' kernels run at once: NVIDIA's Multi-Process Service guide, "When to Use MPS"), so two
    trainers together run no faster in all than one at a time: on CUDA they run one after the
    other, each with the whole GPU. On a CPU they run at once, each with half the cores."""
    if len(models) == 1:
        log(f"sharing: one trainer, {models[0]}, with the whole device")
        return [models]
    if choice == "auto":
        choice = "sequential" if device.type == "cuda" else "together"
    why = {
        "sequential": "one after the other, each with the whole device (without MPS a GPU time-slices processes)",
        "together": "at once, each with its share of the device",
    }[choice]
    log(f"sharing: {', '.join(models)} {why} (--sharing {choice})")
    return [[m] for m in models] if choice == "sequential" else [models]


# ----------------------------------------------------------------------------- the archive


def archive(out: Path, bundle: dict, models: list[str], status: str, message: str, extra: dict) -> Path:
    from pipeline.evalfile import load_eval, provenance_of

    files = {name: out / name for name in jobarchive.JOB_FILES}
    for model in models:
        run_dir = WORK / "runs" / model
        if (run_dir / "eval.npz").is_file():
            (run_dir / "provenance.json").write_text(
                json.dumps(provenance_of(load_eval(run_dir / "eval.npz")), indent=1)
            )
        files |= {f"{model}/{name}": run_dir / name for name in jobarchive.MODEL_FILES}
    manifest = {
        "status": status,
        "message": message,
        "profile": bundle["profile"],
        "models": models,
        "bundle": bundle,
        **extra,
    }
    path = out / jobarchive.archive_name(bundle["profile"], models)
    jobarchive.write_archive(path, manifest, files)
    return path


# ----------------------------------------------------------------------------- the job


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--part-only", type=int, metavar="N", help="only check part N and keep it for the next job"
    )
    p.add_argument(
        "--time-limit", type=float, metavar="S", help="seconds this job may run in all (its slot's limit)"
    )
    p.add_argument("--models", help="comma-separated models to train (default: all of bundle.json)")
    p.add_argument("--out", help="results folder (default $OUT, else ../results)")
    p.add_argument("--device", help="cuda, cuda:N or cpu (default cuda when there is one)")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    p.add_argument(
        "--compile",
        default="off",
        choices=["off", "auto", "on"],
        help="off: eager (default); auto: compile when the self-check shows it pays; on: compile",
    )
    p.add_argument(
        "--sharing",
        default="auto",
        choices=["auto", "sequential", "together"],
        help="trainers one after the other or at once (auto: one after the other on CUDA, at once on a CPU)",
    )
    p.add_argument("--trainer", help=argparse.SUPPRESS)  # internal: one training process
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--parent", type=int, default=0, help=argparse.SUPPRESS)  # the driver's pid
    p.add_argument("--job-token", default="", help=argparse.SUPPRESS)  # marks this job's probes
    return p.parse_args(argv)


def run_job(args, bundle: dict, out: Path, log: Log, start: float) -> int:
    from pipeline.config import run_config_from_dict
    from pipeline.data import load_splits
    from pipeline.device import resolve_device

    deadline = start + args.time_limit if args.time_limit else None
    models = args.models.split(",") if args.models else list(bundle["configs"])
    unknown = [m for m in models if m not in bundle["configs"]]
    if unknown:
        raise JobError(f"--models {unknown[0]}: this bundle trains {', '.join(bundle['configs'])}")
    configs = {m: run_config_from_dict(bundle["configs"][m]) for m in models}
    env = versions()
    log(
        f"{bundle['profile']} job, bundled at {bundle['git_commit'][:12]}: "
        + ", ".join(f"{k} {v}" for k, v in env.items())
    )
    nvidia_smi(out)
    data = prepare_data(bundle, log)
    runs_for(bundle, log)
    timings = {"data_ready": round(time.monotonic() - start, 1)}
    device = resolve_device(args.device)
    splits = load_splits(configs[models[0]].data, data)
    sizes = {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)}
    images = max(cfg.train.epochs for cfg in configs.values()) * sizes["train"]
    setup = choose_setup(configs, splits, device, args, images, log)
    del splits
    timings["self_check_done"] = round(time.monotonic() - start, 1)
    groups = sharing(args.sharing, device, models, log)
    log(
        f"training {', '.join(models)} in {setup['precision']}{', compiled' if setup['compile'] else ', eager'} on {env['device']}"
    )
    token = f"{os.getpid()}-{time.time_ns()}"  # this job's: a probe an earlier job left is never read
    for model in models:
        (WORK / "runs" / model / "probe.json").unlink(missing_ok=True)
    job = {"configs": configs, "sizes": sizes, "deadline": deadline, "limit": args.time_limit, "token": token}
    status, message = watch(groups, setup, args, job, out, log)
    timings["total"] = round(time.monotonic() - start, 1)
    log(f"{status}: {message}")
    shared = "alone" if len(models) == 1 else "sequential" if len(groups) > 1 else "together"
    used = setup | {"device": env["device"], "sharing": shared}
    extra = {"versions": env, "used": used, "timings": timings}
    path = archive(out, bundle, models, status, message, extra)
    log(f"results: {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return 0 if status == jobarchive.COMPLETE else EXIT_STOPPED if status == "stopped" else 1


def main(argv: list[str] | None = None) -> int:
    start = time.monotonic()
    args = parse(argv)
    if args.trainer:
        try:
            return trainer(args)
        except StudyError as exc:
            print(f"run.py: {args.trainer}: error: {exc}", file=sys.stderr)
            return 1
    out = Path(args.out or os.environ.get("OUT") or ROOT / "results")
    log = Log(out, start)
    try:
        bundle = load_bundle()
        if args.part_only:
            store_part(bundle, args.part_only, log)
            return 0
        return run_job(args, bundle, out, log, start)
    except StudyError as exc:
        log(f"run.py: error: {exc}")
        return 1
    except (KeyError, TypeError, IndexError, ValueError) as exc:  # a hand-edited bundle.json
        log(
            f"run.py: error: {JOB / 'bundle.json'} does not hold what this driver needs ({exc!r}): make the bundle again"
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
