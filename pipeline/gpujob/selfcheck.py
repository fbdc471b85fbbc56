"""The GPU job's self-check: the best precision and compile choice that trains on this machine.

Before the trainers start, gpu/run.py tries 20 training steps of each (precision, compile) pair in
order, best first, and keeps the first that runs; every try, failed or not, goes into the results
archive. A failure of one choice (a compiler or kernel error, a non-finite loss) only means: fall
back to the next.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pipeline.errors import StudyError


class SelfCheckError(StudyError, RuntimeError):
    """No precision and compile choice trains on this device; the message says where to look."""


def candidates(device_type: str, precision: str, compile_choice: str) -> list[tuple[str, bool]]:
    """(precision, compile) pairs to try, best first: bf16 and compiled on CUDA, then the fallbacks.
    On a CPU auto means eager: a CPU step is bound by its convolutions, which compiling leaves to the
    same kernels (benchmarks/train_throughput.py), and the CPU rehearsal spent about a minute
    compiling in each process (gpu/README.md, section 3)."""
    precisions = ["bf16", "fp32"] if precision == "auto" and device_type == "cuda" else None
    if precisions is None:
        from pipeline.precision import resolve_precision

        precisions = [resolve_precision(precision, device_type)] + (["fp32"] if precision == "auto" else [])
    compiles = {"on": [True], "off": [False], "auto": [True, False] if device_type == "cuda" else [False]}
    return list(dict.fromkeys((p, c) for p in precisions for c in compiles[compile_choice]))


def choose_setup(cfg, train, device, args, log: Callable[[str], object]) -> dict:
    """The first (precision, compile) pair whose 20-step self-check on the `train` split runs; every
    try is recorded."""
    from pipeline.train import self_check

    train = train.to(device)
    tries = []
    for precision, compiled in candidates(device.type, args.precision, args.compile):
        started = time.monotonic()
        try:
            rate = self_check(cfg, train, device, compile=compiled, precision=precision)
        except Exception as exc:  # any failure of this choice means: fall back to the next
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            tries.append({"precision": precision, "compile": compiled, "ok": False, "error": why})
            log(f"self-check {precision}{' compiled' if compiled else ''}: failed ({why}); falling back")
            continue
        seconds = time.monotonic() - started
        tries.append(
            {"precision": precision, "compile": compiled, "ok": True, "images_per_s": round(rate, 1)}
        )
        log(
            f"self-check {precision}{' compiled' if compiled else ''}: 20 steps in {seconds:.1f} s, {rate:,.0f} img/s after the first"
        )
        return {"precision": precision, "compile": compiled, "self_check": tries}
    raise SelfCheckError(f"no precision and compile choice ran 20 training steps on {device}: see run.log")
