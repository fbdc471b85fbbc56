"""Which arithmetic a run uses: --precision auto|fp32|bf16, and the autocast context it means.

`auto` is bf16 on CUDA (tensor cores; no loss scaling needed, unlike fp16) and on a CPU with AMX
tiles, where oneDNN runs bf16 convolutions on the matrix units (measured on such a Xeon,
2026-12-01, idle, ResNet-18 batch 128: training 67 -> 162-187 img/s, prediction 198 -> 644 img/s);
fp32 elsewhere. bf16 can be asked for on any CPU: on an AMD EPYC with AVX512-BF16 but no AMX it
still gave 1.9x training and 2.2x prediction (benchmarks/precision_throughput.py), but on cores
without native bf16 it is slower, so `auto` does not pick it there.

Autocast covers the convolutions and the linear layer; the loss, the softmax and every stored
logit stay fp32 (the callers cast with `.float()`).
"""

from __future__ import annotations

import contextlib

import torch

from pipeline.config import ConfigError

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles, as torch sees it.

    torch.cpu._is_amx_tile_supported exists in torch 2.11 and 2.14 (the GPU slots' and ours); older
    releases exposed it as torch._C._cpu._is_cpu_support_amx_tile. Neither: assume none.
    """
    for probe in (
        getattr(torch.cpu, "_is_amx_tile_supported", None),
        getattr(getattr(torch._C, "_cpu", None), "_is_cpu_support_amx_tile", None),
    ):
        if probe is not None:
            return bool(probe())
    return False


def resolve_precision(name: str | None, device: torch.device | str) -> str:
    """ "fp32" or "bf16" for --precision on this device; an unknown name is one clear line."""
    name = name or "auto"
    if name not in PRECISIONS:
        raise ConfigError(f"--precision {name!r}: use one of {', '.join(PRECISIONS)}")
    if name != "auto":
        return name
    device = torch.device(device)
    return "bf16" if device.type == "cuda" or cpu_has_amx() else "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on the device for "bf16"; nothing for "fp32"."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
