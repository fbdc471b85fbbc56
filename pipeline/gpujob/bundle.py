"""The portable GPU job: one folder with the code, the packed dataset and the driver (gpu/README.md).

    DIR/job/     run.py (gpu/run.py), pipeline/ (the project's package), vendor/captum-*.zip,
                 data/labels.npz and data/meta, bundle.json (what the job must do and check),
                 SOURCE.json (the commit it was bundled from: the job has no git)
    DIR/part1/   cifar100-1.tar: WebP mosaics (pipeline/gpujob/pack.py), under 60 MiB
    DIR/part2/   cifar100-2.tar

The job trains exactly the run configs written into bundle.json (the profile's, when bundled):
the driver never changes them, and `build.py import` checks them against the profile again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import platform
import shutil
import zipfile
from pathlib import Path

import numpy as np

from pipeline.config import MODELS, run_config, to_dict
from pipeline.data import REBUILT_DIGESTS, SYNTHETIC_MARKER, read_folder
from pipeline.digests import bytes_digest, content_digests
from pipeline.files import atomic_dir, write_bytes, write_json
from pipeline.gpujob import pack
from pipeline.project import ROOT

SCHEMA = 1
FOLDERS = ("job", "part1", "part2")  # what a bundle folder holds that the bundle writes
UPLOAD_LIMIT = 64 * 2**20  # bytes a GPU slot uploads per job, the project's files included (gpu/README.md)
PIPELINE = ROOT / "pipeline"
DRIVER = ROOT / "gpu" / "run.py"


def data_arrays(folder: Path) -> tuple[dict, bytes, str]:
    """(arrays, meta bytes, source) of a verified cifar-100-python folder; arrays hold (N, 3072) images
    and int64 labels per split."""
    synthetic = (folder / SYNTHETIC_MARKER).exists()
    train, test, meta = read_folder(str(folder), verify=not synthetic)
    arrays = {}
    for split, entry in (("train", train), ("test", test)):
        arrays[split] = np.ascontiguousarray(entry["data"], np.uint8)
        arrays[f"{split}_fine"] = np.asarray(entry["fine_labels"], np.int64)
        arrays[f"{split}_coarse"] = np.asarray(entry["coarse_labels"], np.int64)
    return arrays, (folder / "meta").read_bytes(), "synthetic" if synthetic else "cifar-100"


def digests_of(arrays: dict) -> dict[str, list[str]]:
    return {s: content_digests(arrays[s], arrays[f"{s}_fine"], arrays[f"{s}_coarse"]) for s in pack.SPLITS}


def check_round_trip(parts: list[bytes], arrays: dict) -> None:
    """Unpack the parts just made and compare every pixel with the source: lossless, or no bundle."""
    members: dict[str, bytes] = {}
    for i, data in enumerate(parts, 1):
        members |= pack.read_members(data, f"part {i}")
    back = pack.unpack(members, {s: len(arrays[s]) for s in pack.SPLITS})
    for split in pack.SPLITS:
        if not np.array_equal(back[split], arrays[split]):
            raise pack.PackError(
                f"the {split} images did not survive WebP bit-exactly: this Pillow is not lossless"
            )


def vendored_captum() -> tuple[str, bytes]:
    """(file name, zip bytes) of the installed captum's Python files and metadata, importable from
    the zip (zipimport): the job's Grad-CAM is then the same code as here, where captum is absent."""
    spec = importlib.util.find_spec("captum")
    root = Path(spec.origin).parent
    dist = importlib.metadata.distribution("captum")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*.py")):
            zf.write(path, f"captum/{path.relative_to(root)}")
        for name in ("METADATA", "LICENSE", "licenses/LICENSE"):
            text = dist.read_text(name)
            if text is not None:
                zf.writestr(f"captum-{dist.version}.dist-info/{name}", text)
    return f"captum-{dist.version}.zip", buffer.getvalue()


def code_files() -> dict[str, bytes]:
    """The job's code by its path inside job/: the driver and every module of pipeline/, those of its
    subpackages (with their __init__.py) included."""
    files = {"run.py": DRIVER.read_bytes()}
    files |= {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in sorted(PIPELINE.rglob("*.py"))}
    return files


def manifest(profile: str, arrays: dict, source: str, parts: list[bytes], code: dict, git: tuple) -> dict:
    import torch

    digests = digests_of(arrays)
    return {
        "schema": SCHEMA,
        "profile": profile,
        "configs": {m: to_dict(run_config(profile, m)) for m in MODELS},
        "data_source": source,
        "sizes": {s: len(arrays[s]) for s in pack.SPLITS},
        "digests": digests,
        "digests_as_readme": source != "synthetic"
        and all(tuple(digests[s]) == REBUILT_DIGESTS[s] for s in pack.SPLITS),
        "parts": [
            {"file": f"part{i}/cifar100-{i}.tar", "sha256": bytes_digest(p), "bytes": len(p)}
            for i, p in enumerate(parts, 1)
        ],
        "code": {name: hashlib.sha256(data).hexdigest() for name, data in code.items()},
        "git_commit": git[0],
        "git_dirty": git[1],
        "bundled_with": {"python": platform.python_version(), "torch": torch.__version__.split("+")[0]},
    }


def tracked_bytes(root: Path) -> int | None:
    """Bytes of the project's files that a GPU slot uploads with every job (git's tracked and
    untracked-not-ignored files), or None where git cannot tell."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    files = [root / name for name in done.stdout.decode().split("\0") if name]
    return sum(p.stat().st_size for p in files if p.is_file())


def labels_npz(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: arrays[k].astype(np.uint8) for k in arrays if "_" in k})
    return buffer.getvalue()


def write_bundle(profile: str, data_folder: Path, dest: Path, git: tuple, say) -> dict:
    """Pack, check the round trip, and write DIR/part*/ then DIR/job/ (each folder atomically)."""
    arrays, meta, source = data_arrays(data_folder)
    say(f"pack {sum(len(arrays[s]) for s in pack.SPLITS):,} images as lossless WebP ...")
    parts = pack.pack(arrays)
    check_round_trip(parts, arrays)
    code = code_files()
    info = manifest(profile, arrays, source, parts, code, git)
    for i, data in enumerate(parts, 1):
        with atomic_dir(dest / f"part{i}") as tmp:
            write_bytes(tmp / f"cifar100-{i}.tar", data)
    for stale in FOLDERS[1 + len(parts) :]:  # a part an earlier bundle of ours wrote and this one has not
        shutil.rmtree(dest / stale, ignore_errors=True)
    with atomic_dir(dest / "job") as tmp:
        for name, data in code.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        captum_name, captum_zip = vendored_captum()
        (tmp / "vendor").mkdir()
        (tmp / "vendor" / captum_name).write_bytes(captum_zip)
        (tmp / "data").mkdir()
        (tmp / "data" / "labels.npz").write_bytes(labels_npz(arrays))
        (tmp / "data" / "meta").write_bytes(meta)
        write_json(tmp / "SOURCE.json", {"git_commit": git[0], "git_dirty": git[1]})
        write_json(tmp / "bundle.json", info)
    return info
