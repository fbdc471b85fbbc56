"""The results archive a GPU job returns (gpu/run.py writes it, `build.py import` reads it).

One uncompressed tar (eval.npz is compressed already), small enough to come back from a job
(each file at most 16 MiB): manifest.json first, then per model eval.npz, history.json and
provenance.json, then the job's log, its nvidia-smi and the trainers' logs. The manifest holds the
sha256 of every other member, the bundle's manifest (configs, data digests, commit), what the job
used (device, precision, compile, its self-check), the versions and the timings.

Reading trusts nothing: only regular files with the names above, each under MAX_MEMBER, each
digest checked, before any of it is used.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from pipeline.config import MODELS, config_diff
from pipeline.digests import bytes_digest
from pipeline.errors import StudyError
from pipeline.files import write_bytes
from pipeline.gpujob.pack import tar_bytes
from pipeline.jsonfile import parse_json
from pipeline.printable import printable

SCHEMA = 1
MODEL_FILES = ("eval.npz", "history.json", "provenance.json")
JOB_FILES = ("run.log", "nvidia-smi.txt", *(f"train-{m}.log" for m in MODELS))
MAX_MEMBER = 64 * 2**20  # bytes; a paper eval.npz is about 4.3 MB
COMPLETE = "complete"


class ArchiveError(StudyError, ValueError):
    """A results archive that cannot be imported; the message names it and what to do."""


def archive_name(profile: str, models: list[str]) -> str:
    """results-<profile>.tar, or results-<profile>-<model>.tar for a job that trained one model."""
    return (
        f"results-{profile}.tar"
        if set(models) == set(MODELS)
        else f"results-{profile}-{'-'.join(models)}.tar"
    )


def allowed_names() -> set[str]:
    return {"manifest.json", *JOB_FILES, *(f"{m}/{f}" for m in MODELS for f in MODEL_FILES)}


def write_archive(path: Path, manifest: dict, files: dict[str, Path]) -> None:
    """The archive at `path`, atomically: the manifest with every file's sha256, then the files that exist."""
    members = {name: p.read_bytes() for name, p in files.items() if p.is_file()}
    manifest = {**manifest, "schema": SCHEMA, "files": {n: bytes_digest(d) for n, d in members.items()}}
    head = ("manifest.json", json.dumps(manifest, indent=1, sort_keys=True).encode())
    write_bytes(path, tar_bytes([head, *members.items()]))


def _members(path: Path) -> dict[str, bytes]:
    try:
        with tarfile.open(path, mode="r:") as tar:
            out = {}
            for m in tar.getmembers():
                if not m.isfile() or m.name not in allowed_names() or m.size > MAX_MEMBER or m.name in out:
                    raise ArchiveError(
                        f"{path} holds {m.name!r}, which no GPU job writes: it is not a results archive"
                    )
                out[m.name] = tar.extractfile(m).read()
            return out
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveError(
            f"{path} is not a readable tar ({type(exc).__name__}): fetch the archive again"
        ) from None
    except FileNotFoundError:
        raise ArchiveError(
            f"{path}: no such file: give the results-<profile>.tar a GPU job returned"
        ) from None
    except OSError as exc:
        raise ArchiveError(f"{path} cannot be read ({exc.strerror}): fetch the archive again") from None


def _manifest(path: Path, members: dict[str, bytes]) -> dict:
    try:
        manifest = parse_json(members["manifest.json"])
    except KeyError:
        raise ArchiveError(f"{path} has no manifest.json: it is not a results archive") from None
    except ValueError:
        raise ArchiveError(f"{path}: manifest.json is not JSON: fetch the archive again") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("schema") != SCHEMA
        or not isinstance(manifest.get("files"), dict)
    ):
        raise ArchiveError(
            f"{path}: manifest.json is not of schema {SCHEMA}: make the bundle with this build.py"
        )
    return manifest


def read_archive(path: Path) -> tuple[dict, dict[str, bytes]]:
    """(manifest, members) of an archive whose every member is listed with its digest and matches it."""
    members = _members(Path(path))
    manifest = _manifest(path, members)
    listed = manifest["files"]
    for name, data in members.items():
        if name != "manifest.json" and listed.get(name) != bytes_digest(data):
            raise ArchiveError(
                f"{path}: {name} does not match its digest in manifest.json: fetch the archive again"
            )
    missing = sorted(set(listed) - set(members))
    if missing:
        raise ArchiveError(f"{path}: {missing[0]} is listed but absent: fetch the archive again")
    return manifest, members


def check_finished(path: Path, manifest: dict, expected: dict[str, dict]) -> list[str]:
    """The models of a finished job whose configs are `expected` ({model: to_dict(run config)});
    refuses a stopped or failed job, another profile's configs, and missing versions."""
    if manifest.get("status") != COMPLETE:
        # The job's own words: printed escaped, so that none of them acts on the terminal.
        why = printable(manifest.get("message") or "no reason recorded")
        raise ArchiveError(
            f"{path}: the job did not finish ({printable(manifest.get('status'))}: {why}): see gpu/README.md"
        )
    versions = manifest.get("versions")
    if not isinstance(versions, dict) or not {"python", "torch"} <= set(versions):
        raise ArchiveError(
            f"{path}: manifest.json records no python and torch versions: it is not a job's archive"
        )
    bundle = manifest.get("bundle")
    configs = bundle.get("configs") if isinstance(bundle, dict) else None
    models = manifest.get("models")
    if (
        not isinstance(configs, dict)
        or not isinstance(models, list)
        or not models
        or not all(isinstance(m, str) and m in expected for m in models)
    ):
        raise ArchiveError(
            f"{path}: manifest.json names no known models and configs: it is not a job's archive"
        )
    for model in models:
        if not isinstance(configs.get(model), dict):
            raise ArchiveError(f"{path}: no config of {model} in manifest.json: it is not a job's archive")
        diffs = config_diff(configs[model], expected[model])
        if diffs:
            raise ArchiveError(
                f"{path}: {model} was trained with other settings than this profile's ({printable(diffs[0])}): "
                "bundle again with this build.py and rerun the job"
            )
    return models
