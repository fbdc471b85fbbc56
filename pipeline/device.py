"""Which device a run uses: --device, else CUDA where there is one, else the CPU: no device is
hard-coded, so the same code trains on a GPU and runs its tests on a CPU."""

from __future__ import annotations

import torch

from pipeline.config import ConfigError


def resolve_device(name: str | None) -> torch.device:
    """A torch.device for --device; one that is malformed or not on this machine is one clear line."""
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device {name!r} is not a device: use cuda, cuda:N or cpu") from None
    if device.type == "cuda" and (
        not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()
    ):
        raise ConfigError(
            f"--device {name}: no such CUDA device on this machine: use --device cpu, or a GPU machine"
        )
    if device.type not in ("cuda", "cpu"):
        raise ConfigError(f"--device {name}: only cuda and cpu are supported")
    return device
