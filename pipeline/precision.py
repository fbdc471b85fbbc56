"""Which arithmetic a run uses: --precision auto|fp32|bf16, and the autocast context it means.

`auto` is bf16 on CUDA (tensor cores; no loss scaling needed, unlike fp16) and on a CPU with
native bf16 dot products, where oneDNN runs bf16 convolutions at up to twice the fp32 rate: AMX
tiles (measured on such a Xeon, 2026-12-01, idle, ResNet-18 batch 128: training 67 -> 162-187
img/s, prediction 198 -> 644 img/s) or AVX512-BF16 (an AMD EPYC Zen 4 without AMX, 2026-12-06,
one other job running: training 57 -> 111 img/s, prediction 185 -> 392 img/s;
benchmarks/precision_throughput.py). fp32 elsewhere: on cores without native bf16 it is slower.

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
    return _probe(torch.cpu, "_is_amx_tile_supported") or _probe(
        getattr(torch._C, "_cpu", None), "_is_cpu_support_amx_tile"
    )


def cpu_has_avx512_bf16() -> bool:
    """Whether this CPU has the AVX512-BF16 dot-product instructions, as torch sees it (torch 2.14)."""
    return _probe(torch.cpu, "_is_avx512_bf16_supported")


def cpu_has_native_bf16() -> bool:
    """AMX or AVX512-BF16: bf16 arithmetic in hardware, where bf16 autocast pays."""
    return cpu_has_amx() or cpu_has_avx512_bf16()


def _probe(module, name: str) -> bool:
    check = getattr(module, name, None)
    return bool(check()) if check is not None else False


def resolve_precision(name: str | None, device: torch.device | str) -> str:
    """ "fp32" or "bf16" for --precision on this device; an unknown name is one clear line."""
    name = name or "auto"
    if name not in PRECISIONS:
        raise ConfigError(f"--precision {name!r}: use one of {', '.join(PRECISIONS)}")
    if name != "auto":
        return name
    device = torch.device(device)
    return "bf16" if device.type == "cuda" or cpu_has_native_bf16() else "fp32"


def ieee_fp32() -> dict[str, str]:
    """Make fp32 on CUDA IEEE fp32 for convolutions and matrix products, and return the settings.

    cuDNN convolutions default to TF32 (10-bit mantissa) on Ampere and later GPUs
    (`torch.backends.cudnn.conv.fp32_precision == "tf32"`, torch 2.11 and 2.14), so Grad-CAM's maps
    and any run recorded as fp32 would not be fp32. bf16 autocast is untouched: it casts the
    convolutions' inputs to bf16 before these settings apply. The API is the one torch 2.9
    introduced (pytorch.org/docs/main/notes/cuda.html, TensorFloat-32); torch's own legacy getter
    `torch.backends.cudnn.allow_tf32` raises once it is used, so nothing here reads that.
    """
    torch.backends.cudnn.conv.fp32_precision = "ieee"
    torch.backends.cuda.matmul.fp32_precision = "ieee"
    return fp32_math()


def fp32_math() -> dict[str, str]:
    """What fp32 means on CUDA in this process, for the provenance."""
    return {
        "cudnn_conv": torch.backends.cudnn.conv.fp32_precision,
        "cuda_matmul": torch.backends.cuda.matmul.fp32_precision,
    }


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on the device for "bf16"; nothing for "fp32"."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
