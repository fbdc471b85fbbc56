"""A run's state on disk: checkpoint.pt and history.json, written atomically and read safely.

A checkpoint carries its own config and provenance (as nanoGPT's do) and everything a resumed run
needs to continue bitwise as if never stopped: model, optimiser, scheduler, every RNG state, the
number of finished epochs and the history so far. It holds only tensors and plain types, so it
loads with `torch.load(weights_only=True)`, which runs no code from the file.

Every refusal is a `CheckpointError` with one line that names the file and the fix: a truncated
or corrupt file, a checkpoint of another config (the differing fields named), weights of another
architecture. Weights trained elsewhere (`--checkpoint-baseline PATH`) may be one of our
checkpoints or a bare state_dict, plain or in the kuangliu/pytorch-cifar layout.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pipeline.config import RunConfig, config_diff, to_dict
from pipeline.errors import StudyError
from pipeline.files import write_bytes, write_json
from pipeline.model import WeightsError, load_weights

FORMAT = 1  # bump when the layout below changes; older files are then refused, not misread
KEYS = ("format", "model", "optimizer", "scheduler", "rng", "epoch", "history", "config", "provenance")


class CheckpointError(StudyError, ValueError):
    """A checkpoint or weights file that cannot be used; the one-line message names the file and the fix."""


# ----------------------------------------------------------------------------- writing


def save_checkpoint(path: Path, state: dict) -> None:
    """Save a training state (the KEYS above) atomically."""
    missing = [k for k in KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks {', '.join(missing)}")
    # Serialised in memory first: torch.save reports a failed write (a full disk, a file size limit)
    # as a RuntimeError without its errno, which write_bytes turns into one line naming the file.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes(path, buffer.getbuffer())  # atomically: a kill mid-write leaves the previous checkpoint whole


def write_history(path: Path, provenance: dict, epochs: list[dict]) -> None:
    """history.json as in pipeline/RESULTS.md: {"provenance": {...}, "epochs": [...]}, atomically."""
    write_json(path, {"provenance": provenance, "epochs": epochs})


# ----------------------------------------------------------------------------- states of the parts


def scheduler_state(scheduler: torch.optim.lr_scheduler.LRScheduler) -> dict:
    """The scheduler's state with MultiStepLR's Counter as a dict (not every torch's weights_only allows Counter)."""
    state = dict(scheduler.state_dict())
    if isinstance(state.get("milestones"), Counter):
        state["milestones"] = dict(state["milestones"])
    return state


def restore_scheduler(scheduler: torch.optim.lr_scheduler.LRScheduler, state: dict) -> None:
    state = dict(state)
    if isinstance(state.get("milestones"), dict):
        state["milestones"] = Counter(state["milestones"])  # MultiStepLR reads missing epochs as 0
    scheduler.load_state_dict(state)


# The size of a device generator's state tells its kind where a checkpoint does not say it:
# a CPU generator is a Mersenne Twister (5,056 bytes), a CUDA one a Philox seed and offset (16).
STATE_BYTES = {5056: "cpu", 16: "cuda"}


def rng_state(generator: torch.Generator, rng: np.random.Generator) -> dict:
    """Every RNG state a run draws from: the device generator (and its device type), numpy's, and
    torch's global CPU one."""
    return {
        "torch_cpu": torch.get_rng_state(),
        "device": generator.get_state(),  # a CPU uint8 tensor for CPU and CUDA generators alike
        "device_type": generator.device.type,
        "numpy": json.dumps(rng.bit_generator.state),  # 128-bit ints, kept exact as JSON text
    }


def saved_device_type(state: dict) -> str:
    """The device type whose generator wrote this RNG state ("cpu", "cuda", or "unknown")."""
    recorded = state.get("device_type")
    return recorded if isinstance(recorded, str) else STATE_BYTES.get(state["device"].numel(), "unknown")


def restore_rng(state: dict, generator: torch.Generator, rng: np.random.Generator, path: Path) -> None:
    """Every RNG state back, or one CheckpointError line when the device generator is of another kind:
    a CPU and a CUDA generator draw different streams, so no state of one continues the other."""
    saved, here = saved_device_type(state), generator.device.type
    if saved != here:
        raise CheckpointError(
            f"{path} was trained on {saved} and cannot resume on {here} (their random generators "
            f"draw different streams): resume it on {saved}, or train it again from scratch (--retrain)"
        )
    torch.set_rng_state(state["torch_cpu"])
    generator.set_state(state["device"])
    rng.bit_generator.state = json.loads(state["numpy"])


# ----------------------------------------------------------------------------- reading


def _read(path: Path, fix: str) -> object:
    """torch.load with weights_only=True, any failure as one CheckpointError line ending in `fix`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncation, corruption and foreign objects surface as many exception types
        kind = type(err).__name__
        raise CheckpointError(
            f"{path} is truncated, corrupt or not a weights-only torch file ({kind}): {fix}"
        ) from None


def read_checkpoint(path: Path) -> dict:
    """One of our checkpoints, unchecked against any config; CheckpointError when it is not one."""
    fix = "delete it and train again"
    state = _read(path, fix)
    if not isinstance(state, dict) or any(k not in state for k in KEYS):
        raise CheckpointError(f"{path} is not a training checkpoint of this project: {fix}")
    if state["format"] != FORMAT:
        raise CheckpointError(
            f"{path} has checkpoint format {state['format']}, this code reads {FORMAT}: {fix}"
        )
    return state


def check_config(state: dict, run_cfg: RunConfig, path: Path) -> None:
    """Refuse a checkpoint made with another config, naming the fields that differ (stored != current)."""
    diffs = config_diff(state["config"], to_dict(run_cfg))
    if diffs:
        raise CheckpointError(
            f"{path} was made with another config ({'; '.join(diffs)}): "
            "delete it to train with the current config, or run with the config it was made with"
        )


def load_checkpoint(path: Path, run_cfg: RunConfig) -> dict:
    """Our checkpoint of exactly this config; CheckpointError otherwise."""
    state = read_checkpoint(path)
    check_config(state, run_cfg, path)
    return state


def restore_weights(model: nn.Module, state_dict: dict, path: Path) -> nn.Module:
    """load_weights, with an architecture mismatch as a CheckpointError naming the file."""
    try:
        return load_weights(model, state_dict)
    except WeightsError as err:
        raise CheckpointError(f"{path}: {err}") from None


# Wrappers other training scripts put around a state_dict: ours ('model'), Lightning and most
# scripts ('state_dict'), kuangliu/pytorch-cifar ('net', beside 'acc' and 'epoch').
_WRAPPERS = ("model", "state_dict", "net")


def _unwrap(obj: object) -> dict | None:
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for key in _WRAPPERS:
            if isinstance(obj.get(key), dict):
                return _unwrap(obj[key])
    return None


def load_weights_file(path: Path, model: nn.Module, expect: RunConfig | None = None) -> nn.Module:
    """Load weights given by the user into `model`: our checkpoint or a (wrapped) bare state_dict.

    Always weights_only=True. When `expect` is given and the file is one of our checkpoints, its
    config must match (a bare state_dict carries none to check).
    """
    obj = _read(path, "give a state_dict saved with torch.save(model.state_dict(), path)")
    if expect is not None and isinstance(obj, dict) and isinstance(obj.get("config"), dict):
        check_config(obj, expect, path)
    state_dict = _unwrap(obj)
    if state_dict is None:
        raise CheckpointError(
            f"{path} holds no state_dict (a dict of tensors, bare or under 'model', 'state_dict' or 'net')"
        )
    return restore_weights(model, state_dict, path)
