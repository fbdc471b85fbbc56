"""Where a result came from: config and its hash, data split, code version, libraries, device, time.

Stored in every checkpoint and result file and printed in the report's appendix, so that a number
can always be traced to the run that made it. Plain JSON types only, so the dict also loads under
`torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import UTC, datetime

import numpy as np
import torch
import torchvision

from pipeline.config import RunConfig, config_hash, to_dict
from pipeline.jsonfile import parse_json
from pipeline.precision import fp32_math
from pipeline.project import ROOT

# A GPU-job bundle (pipeline/gpujob/bundle.py) has no git: it records the commit it was made from here.
SOURCE = ROOT / "SOURCE.json"


def _git(*args: str) -> str | None:
    """Output of a git command in the repository, or None where there is no git or no repository."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state() -> tuple[str, bool | None]:
    """(commit, dirty): HEAD's hash or "unknown"; whether tracked or untracked files differ (None: unknown).

    In a bundle, the commit and state it was made from (SOURCE.json)."""
    if SOURCE.is_file():
        try:
            source = parse_json(SOURCE.read_bytes())
            return str(source["git_commit"]), source.get("git_dirty")
        except (OSError, ValueError, KeyError, TypeError):
            return "unknown", None
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain") if commit else None
    return commit or "unknown", (None if status is None else bool(status))


def device_name(device: torch.device | str) -> str:
    """The CUDA device's name, or "cpu"."""
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def provenance(
    run_cfg: RunConfig, split_hash: str, device: torch.device | str, data_source: str, precision: str = "fp32"
) -> dict:
    """The provenance record of one run, as a dict of plain JSON types; `precision` is its arithmetic."""
    commit, dirty = git_state()
    record = {
        "config": to_dict(run_cfg),
        "config_hash": config_hash(run_cfg),
        "split_hash": split_hash,
        "data_source": data_source,
        "git_commit": commit,
        "git_dirty": dirty,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "numpy": np.__version__,
        },
        "device": device_name(device),
        "precision": precision,
        "fp32_math": fp32_math(),  # IEEE or TF32 for CUDA's fp32 convolutions and matmuls
        "seed": run_cfg.train.seed,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    # A JSON round trip makes every value a plain type: torch.__version__ is a str subclass
    # (TorchVersion) that torch.load(weights_only=True) refuses.
    return json.loads(json.dumps(record))
