"""What `build.py import` checks of the archives GPU jobs returned, before anything is frozen.

Each archive is read whole and every member checked against its digest
(pipeline/gpujob/jobarchive.py); the job must have finished, with this profile's run configs,
recorded versions, a history with every epoch of the config, and an eval.npz that passes the same
checks as the build's own (pipeline/evalfile.py) and whose provenance names the same config. Paper results must come from
CIFAR-100, not from generated stand-in data. Together the archives must hold every model once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import MODELS, run_config, to_dict
from pipeline.evalfile import EvalFileError, load_eval, pair_difference, provenance_of
from pipeline.gpujob.jobarchive import MODEL_FILES, ArchiveError, check_finished, read_archive
from pipeline.historyfile import load_history
from pipeline.printable import printable


@dataclass
class Archive:
    path: Path
    manifest: dict
    members: dict[str, bytes]
    models: list[str]  # the models it holds, checked


def verified_archives(paths: list[Path], profile: str) -> list[Archive]:
    """The archives, each verified, holding every model of the study exactly once between them."""
    expected = {m: to_dict(run_config(profile, m)) for m in MODELS}
    archives, seen = [], {}
    for path in paths:
        manifest, members = read_archive(path)
        if manifest.get("profile") != profile:
            held = printable(manifest.get("profile"))
            raise ArchiveError(f"{path} holds a '{held}' job: give --profile {held}")
        models = check_finished(path, manifest, expected)
        for model in models:
            if model in seen:
                raise ArchiveError(f"{model} is in both {seen[model]} and {path}: give one archive per model")
            seen[model] = path
        archives.append(Archive(path, manifest, members, models))
    missing = [m for m in MODELS if m not in seen]
    if missing:
        held = "; ".join(f"{a.path} holds {', '.join(a.models)}" for a in archives)
        raise ArchiveError(
            f"no archive holds {missing[0]} ({held}): give the archives of every model "
            "(python build.py import A.tar [B.tar])"
        )
    return archives


def _check_run(archive: Archive, model: str, folder: Path, profile: str) -> dict:
    """The model's eval arrays, once its history has every epoch and its evaluation is sound and of
    this config."""
    cfg = run_config(profile, model)
    try:
        rows = load_history(folder / "history.json")
        arrays = load_eval(folder / "eval.npz")
    except EvalFileError as exc:
        raise ArchiveError(f"{archive.path}: {printable(str(exc).replace(str(folder), model))}") from None
    if len(rows) != cfg.train.epochs:
        raise ArchiveError(
            f"{archive.path}: {model} has {len(rows)} of {cfg.train.epochs} epochs: rerun the job to the end"
        )
    prov = provenance_of(arrays)
    if prov.get("config") != to_dict(cfg):
        raise ArchiveError(f"{archive.path}: {model}/eval.npz was made under another config: rerun the job")
    if profile == "paper" and prov.get("data_source") != "cifar-100":
        raise ArchiveError(
            f"{archive.path}: {model} was trained on {prov.get('data_source')!r} data: the paper's results "
            "need CIFAR-100 (bundle without --synthetic)"
        )
    return arrays


def _check_pair(archives: list[Archive], evals: dict[str, dict]) -> None:
    """Both models were evaluated on the same test images, labels, classes and data."""
    why = pair_difference({m: evals[m] for m in MODELS})
    if why is not None:
        held = " and ".join(str(a.path) for a in archives)
        raise ArchiveError(
            f"{held}: the models' evaluations cannot be compared ({printable(why)}): "
            "rerun the jobs of one bundle (python build.py bundle)"
        )


def job_record(archive: Archive) -> dict[str, bytes]:
    """The job's manifest, logs and nvidia-smi, kept beside the frozen results (job/, or job-<model>/)."""
    folder = "job" if set(archive.models) == set(MODELS) else f"job-{'-'.join(archive.models)}"
    kept = {f"{folder}/{n}": d for n, d in archive.members.items() if "/" not in n and n != "manifest.json"}
    manifest = json.dumps(archive.manifest, indent=1, sort_keys=True).encode()
    return kept | {f"{folder}/manifest.json": manifest}


def extract_runs(archives: list[Archive], folder: Path, profile: str) -> tuple[dict, dict[str, bytes]]:
    """({model: {"eval": path, "history": path}}, job records) with each model's files written under
    folder/<model>/ and checked."""
    files, extra, evals = {}, {}, {}
    for archive in archives:
        for model in archive.models:
            (folder / model).mkdir(parents=True)
            for name in MODEL_FILES:
                if f"{model}/{name}" not in archive.members:
                    raise ArchiveError(
                        f"{archive.path}: {model}/{name} is missing: the job did not finish it"
                    )
                (folder / model / name).write_bytes(archive.members[f"{model}/{name}"])
            evals[model] = _check_run(archive, model, folder / model, profile)
            files[model] = {"eval": folder / model / "eval.npz", "history": folder / model / "history.json"}
        extra |= job_record(archive)
    _check_pair(archives, evals)
    return files, extra
