"""fp32 against bf16 autocast, side by side in one run: training and prediction images/s, their ratio,
and the share of the processor's peak each reaches.

Both precisions run the production code (pipeline.train's step and pipeline.evaluate.predict_logits)
on the same random images, taking turns, so that load from elsewhere hits both alike. The FLOPs per
image are counted by torch.utils.flop_counter on the model itself (convolutions and the linear
layer; a training step counts forward and backward). The peak is cores x clock x FLOPs per cycle
per core, with the per-cycle figures assumed from the vendors' documentation (printed with the
result; override with --peak):

- Intel with AMX (Sapphire Rapids and later): fp32 64 (two 512-bit FMA units: 2 x 16 lanes x 2),
  bf16 1024 (one AMX TMUL: 512 bf16 multiply-adds per cycle; Intel optimisation manual, ch. 20).
- Intel AVX-512 with AVX512-BF16 but no AMX (Cooper Lake): fp32 64, bf16 128 (vdpbf16ps).
- AMD with AVX-512 (Zen 4: 256-bit datapaths): fp32 32, bf16 64 (vdpbf16ps on two 256-bit pipes).
- Anything else: fp32 32, bf16 the same (no native bf16 arithmetic).

The clock is the highest this machine states (cpufreq's cpuinfo_max_freq, else /proc/cpuinfo's
"cpu MHz", which in a virtual machine is often the base clock: then a share above 100 % means the
cores run faster than stated; give --mhz).

    .venv/bin/python benchmarks/precision_throughput.py [--turns 4] [--train-steps 3] [--batch-size 128]

Targets, only where the processor has AMX: bf16/fp32 >= 2 for training and >= 3 for
prediction. The script exits 1 when a target applies and is missed.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from pipeline.config import run_config  # noqa: E402
from pipeline.data import normalize_batch  # noqa: E402
from pipeline.evaluate import predict_logits  # noqa: E402
from pipeline.model import build_model, to_device  # noqa: E402
from pipeline.precision import cpu_has_amx  # noqa: E402
from pipeline.train import _new_run, _step  # noqa: E402  (the production step itself, not a copy)

PRECISIONS = ("fp32", "bf16")
TARGETS = {"training": 2.0, "prediction": 3.0}  # bf16/fp32, where AMX is present


# ----------------------------------------------------------------------------- the processor


def cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    try:
        block = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        return {}
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in block.splitlines())}


def flops_per_cycle(info: dict[str, str]) -> tuple[dict[str, int], str]:
    """({precision: FLOPs per cycle per core}, which assumption) for this processor (module docstring)."""
    flags = set(info.get("flags", "").split())
    vendor = info.get("vendor_id", "")
    if cpu_has_amx():
        return {"fp32": 64, "bf16": 1024}, "Intel AMX: 2 x AVX-512 FMA; AMX TMUL"
    if vendor == "GenuineIntel" and "avx512_bf16" in flags:
        return {"fp32": 64, "bf16": 128}, "Intel AVX-512 + AVX512-BF16, no AMX"
    if vendor == "AuthenticAMD" and "avx512f" in flags:
        bf16 = 64 if "avx512_bf16" in flags else 32
        return {"fp32": 32, "bf16": bf16}, "AMD Zen 4 AVX-512 on 256-bit datapaths"
    return {"fp32": 32, "bf16": 32}, "generic: 2 x 256-bit FMA, no native bf16"


def stated_mhz(info: dict[str, str]) -> float:
    """The highest clock this machine states, in MHz (module docstring)."""
    try:
        return int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text()) / 1000
    except (OSError, ValueError):
        return float(info.get("cpu MHz", "nan"))


def peak_gflops(per_cycle: dict[str, int], threads: int, mhz: float) -> dict[str, float]:
    return {p: threads * mhz * 1e-3 * f for p, f in per_cycle.items()}


# ----------------------------------------------------------------------------- FLOPs per image


def counted_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def flops_per_image(batch: int) -> dict[str, float]:
    """FLOPs of one image's prediction and of one image's share of a training step (fwd + bwd)."""
    model = build_model()
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 100, (batch,))
    with torch.no_grad():
        predict = counted_flops(lambda: model(x))
    train = counted_flops(lambda: F.cross_entropy(model(x), y).backward())
    return {"prediction": predict / batch, "training": train / batch}


# ----------------------------------------------------------------------------- the two loops


def training_turn(precision: str, batch: int, device: torch.device):
    """A function running n production training steps in `precision`; returns seconds taken."""
    cfg = dataclasses.replace(run_config("paper", "baseline").train, batch_size=batch)
    run = _new_run(cfg, device, compile=False, precision=precision)
    images = torch.randint(0, 256, (batch, 3, 32, 32), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 100, (batch,), device=device)

    def steps(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            _step(run, normalize_batch(images), labels, cfg)
        return time.perf_counter() - start

    return steps


def prediction_turn(precision: str, images: torch.Tensor, device: torch.device, batch: int):
    model = to_device(build_model(), device).eval()

    def once() -> float:
        start = time.perf_counter()
        predict_logits(model, images, device, batch, precision)
        return time.perf_counter() - start

    return once


def measure(args, device: torch.device) -> dict[str, dict[str, float]]:
    """{kind: {precision: images/s}}, the precisions taking turns."""
    train = {p: training_turn(p, args.batch_size, device) for p in PRECISIONS}
    images = torch.randint(0, 256, (args.predict_images, 3, 32, 32), dtype=torch.uint8)
    predict = {p: prediction_turn(p, images, device, 256) for p in PRECISIONS}
    for p in PRECISIONS:  # warm-up: oneDNN picks and caches its kernels
        train[p](2)
        predict[p]()
    seconds = {k: dict.fromkeys(PRECISIONS, 0.0) for k in ("training", "prediction")}
    for _ in range(args.turns):
        for p in PRECISIONS:
            seconds["training"][p] += train[p](args.train_steps)
            seconds["prediction"][p] += predict[p]()
    images_done = {
        "training": args.turns * args.train_steps * args.batch_size,
        "prediction": args.turns * args.predict_images,
    }
    return {k: {p: images_done[k] / s for p, s in by_p.items()} for k, by_p in seconds.items()}


# ----------------------------------------------------------------------------- the table


def parse_peak(text: str | None) -> dict[str, int] | None:
    if not text:
        return None
    try:
        return {k: int(v) for k, v in (item.split("=") for item in text.split(","))}
    except ValueError:
        sys.exit(f"--peak {text!r}: give FLOPs per cycle per core as fp32=N,bf16=M")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=4, help="turns of each precision (default 4)")
    parser.add_argument("--train-steps", type=int, default=3, help="training steps per turn (default 3)")
    parser.add_argument("--predict-images", type=int, default=1024, help="images per prediction turn")
    parser.add_argument("--batch-size", type=int, default=128, help="training batch (default 128)")
    parser.add_argument("--peak", help="FLOPs per cycle per core, e.g. fp32=64,bf16=1024 (default: assumed)")
    parser.add_argument("--mhz", type=float, help="clock of the peak, MHz (default: the highest stated)")
    args = parser.parse_args()
    device = torch.device("cpu")
    info = cpuinfo()
    per_cycle, assumption = flops_per_cycle(info)
    per_cycle = parse_peak(args.peak) or per_cycle
    threads, mhz = torch.get_num_threads(), args.mhz or stated_mhz(info)
    peak = peak_gflops(per_cycle, threads, mhz)
    flops = flops_per_image(8)
    rates = measure(args, device)

    amx = cpu_has_amx()
    print(
        f"{info.get('model name', 'unknown CPU')}, {threads} threads at {mhz:.0f} MHz, AMX: {'yes' if amx else 'no'}, "
        f"torch {torch.__version__}; peak assumed ({assumption}"
        + (", overridden by --peak" if args.peak else "")
        + f"): fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s"
    )
    print(
        f"{'':12s} {'fp32 img/s':>11s} {'bf16 img/s':>11s} {'bf16/fp32':>10s} {'fp32 % peak':>12s} {'bf16 % peak':>12s}"
    )
    missed = False
    for kind, by_p in rates.items():
        ratio = by_p["bf16"] / by_p["fp32"]
        share = {p: 100 * by_p[p] * flops[kind] / (peak[p] * 1e9) for p in PRECISIONS}
        target = TARGETS[kind]
        verdict = (
            f"target >= {target:g}: {'met' if ratio >= target else 'NOT MET'}"
            if amx
            else "no target (no AMX)"
        )
        missed |= amx and ratio < target
        print(
            f"{kind:12s} {by_p['fp32']:11.1f} {by_p['bf16']:11.1f} {ratio:10.2f} "
            f"{share['fp32']:11.1f}% {share['bf16']:11.1f}%   {verdict}"
        )
    print(
        f"FLOPs per image: prediction {flops['prediction'] / 1e9:.3f} G, training step {flops['training'] / 1e9:.3f} G"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
