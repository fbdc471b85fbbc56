"""bundle and import: the profile's portable GPU job (code, the dataset in two parts, the driver;
gpu/README.md), and the results archives it returns, verified and frozen."""

from __future__ import annotations

from pathlib import Path

from commands import workspace
from commands.analyse import analyse_files, analysis_config
from commands.freeze import freeze_into
from commands.workspace import RunFiles, data_folder, log, shown
from pipeline.files import claim_folder, ensure_writable, folder_lock, scratch_dir
from pipeline.leftovers import clean_leftovers
from pipeline.project import ROOT


def bundle(args) -> None:
    """The profile's portable GPU job: code, the dataset packed in two parts, the driver (gpu/README.md)."""
    from pipeline.gpujob.bundle import FOLDERS, UPLOAD_LIMIT, tracked_bytes, write_bundle
    from pipeline.provenance import git_state

    dest = Path(args.out) if args.out else ROOT / "out" / f"job-{args.profile}"
    claim_folder(dest, f"{args.profile} job")
    with folder_lock(dest, log):
        clean_leftovers(dest, FOLDERS)
        info = write_bundle(args.profile, data_folder(args), dest, git_state(), log)
    code = sum(p.stat().st_size for p in (dest / "job").rglob("*") if p.is_file())
    tree = tracked_bytes(ROOT)
    log(f"bundled {args.profile} into {shown(dest)}: job/ {code / 2**20:.1f} MiB")
    for number, part in enumerate(info["parts"], 1):
        upload = code + part["bytes"] + (tree or 0)
        log(
            f"  job {number}: cd {shown(dest / 'job')} && python3 run.py"
            + (" --part-only 1" if number == 1 else " --time-limit 570")
            + f"   uploads job/ and part{number}/ ({part['bytes'] / 2**20:.1f} MiB)"
            + (f", {upload / 2**20:.1f} MiB with the project's files" if tree is not None else "")
        )
        if upload > UPLOAD_LIMIT:
            log(f"  warning: over a GPU slot's {UPLOAD_LIMIT / 2**20:.0f}-MiB upload: see gpu/README.md")


def import_archives(args) -> None:
    """Verify the results archives of GPU jobs (gpu/run.py) and freeze them, as freeze does."""
    from pipeline.gpujob.jobimport import extract_runs, verified_archives

    archives = verified_archives([Path(t) for t in args.targets], args.profile)
    staging = ensure_writable(workspace.RUNS / args.profile)
    with folder_lock(staging, log):  # runs/<profile>/: one import or training at a time
        clean_leftovers(staging, ["import"])  # what a killed import left
        with scratch_dir(staging, "import", elsewhere="") as tmp:
            files, extra = extract_runs(archives, tmp, args.profile)
            runs = {m: RunFiles(f["eval"], f["history"], source="imported") for m, f in files.items()}
            results = analyse_files(runs, analysis_config(), args.profile)
            origin = " and ".join(f"{'/'.join(a.models)} from {a.path}" for a in archives)
            freeze_into(args, files, results, extra, origin)
