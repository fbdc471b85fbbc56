"""The GPU job's self-check: which precision trains on this machine, and whether compiling pays.

Before the trainers start, gpu/run.py runs, for each precision in order (bf16 first on CUDA), 20
training steps of every model of the job in eager mode, each with the epoch's short last batch and
a validation batch, and one evaluation batch with Grad-CAM; it keeps the first precision where all
of that runs. A failure (a kernel error, a non-finite loss) only means: fall back to the next.
Every try, failed or not, goes into the results archive.

Eager is the default. With --compile auto or on, the same steps run compiled too; `auto` keeps the
compiled setup only when it pays for itself: when its steady rate saves more training time than
building its graphs costs each trainer (the first step, the short batch's recompile and the
validation graph, timed here). `on` compiles whatever the check says, and logs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pipeline.errors import StudyError

EVAL_BATCH = 256  # test images of the self-check's evaluation batch


class SelfCheckError(StudyError, RuntimeError):
    """No precision trains on this device; the message says where to look."""


def candidates(device_type: str, precision: str) -> list[str]:
    """Precisions to try, best first: bf16 then fp32 on CUDA for auto; elsewhere auto's choice
    (bf16 where the CPU has it natively) with fp32 to fall back to."""
    from pipeline.precision import resolve_precision

    first = resolve_precision(precision, device_type)
    return list(dict.fromkeys([first] + (["fp32"] if precision == "auto" else [])))


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _train_checks(configs: dict, train, device, precision: str, compiled: bool, short: int) -> dict:
    """Each model's self_check in this setup: {model: {"images_per_s", "warmup_seconds"}}."""
    from pipeline.train import self_check

    return {
        model: self_check(cfg, train, device, compile=compiled, precision=precision, short_batch=short)
        for model, cfg in configs.items()
    }


def gradcam_check(cfg, test, device, precision: str) -> None:
    """One evaluation batch as the evaluate stage takes it: logits and both Grad-CAM maps, all finite."""
    import numpy as np

    from pipeline.evaluate import logits_and_cams
    from pipeline.model import build_model, to_device

    model = to_device(build_model(), device).eval()
    n = min(EVAL_BATCH, len(test))
    got = logits_and_cams(model, test.images[:n], test.labels[:n], device, n, precision)
    if not all(np.isfinite(a).all() for a in got.values()):
        raise FloatingPointError("non-finite logits or Grad-CAM maps")


def training_seconds(checks: dict, images_per_model: int) -> float:
    """Seconds all trainers of these checks need: each model's images at its steady rate, plus what
    its start costs (compilation). Each trainer is a process of its own and builds every graph
    again, while here the later models reuse the first one's: each pays the largest warmup."""
    warmup = max(c["warmup_seconds"] for c in checks.values())
    return sum(images_per_model / c["images_per_s"] + warmup for c in checks.values())


def compile_pays(eager: dict, compiled: dict, images_per_model: int) -> bool:
    return training_seconds(compiled, images_per_model) < training_seconds(eager, images_per_model)


def choose_setup(
    configs: dict, splits, device, args, images_per_model: int, log: Callable[[str], object]
) -> dict:
    """The first precision whose eager check runs, and whether to compile; every try is recorded."""
    train = splits.train.to(device)
    short = len(splits.train) % next(iter(configs.values())).train.batch_size
    tries = []
    for precision in candidates(device.type, args.precision):
        started = time.monotonic()
        try:
            eager = _train_checks(configs, train, device, precision, False, short)
            gradcam_check(next(iter(configs.values())), splits.test, device, precision)
        except Exception as exc:  # any failure of this precision means: fall back to the next
            tries.append({"precision": precision, "compile": False, "ok": False, "error": _why(exc)})
            log(f"self-check {precision}: failed ({_why(exc)}); falling back")
            continue
        tries.append({"precision": precision, "compile": False, "ok": True, "models": eager})
        rates = ", ".join(f"{m} {c['images_per_s']:,.0f} img/s" for m, c in eager.items())
        log(
            f"self-check {precision}: 20 steps of each model and an evaluation batch with Grad-CAM in "
            f"{time.monotonic() - started:.1f} s; eager {rates}: training one model after the other "
            f"would take about {training_seconds(eager, images_per_model):,.0f} s"
        )
        compiled = _compiled(configs, train, device, precision, short, args.compile, tries, log)
        use = compiled is not None and (
            args.compile == "on" or compile_pays(eager, compiled, images_per_model)
        )
        if compiled is not None:
            _log_compile(eager, compiled, images_per_model, use, log)
        return {"precision": precision, "compile": use, "self_check": tries}
    raise SelfCheckError(f"no precision ran the self-check on {device}: see run.log")


def _compiled(configs, train, device, precision, short, choice: str, tries: list, log) -> dict | None:
    """The compiled checks, with --compile auto or on; None when not asked for or failed."""
    if choice == "off":
        return None
    try:
        compiled = _train_checks(configs, train, device, precision, True, short)
    except Exception as exc:  # a compiler error: eager it is
        tries.append({"precision": precision, "compile": True, "ok": False, "error": _why(exc)})
        log(f"self-check {precision} compiled: failed ({_why(exc)}); eager")
        return None
    tries.append({"precision": precision, "compile": True, "ok": True, "models": compiled})
    return compiled


def _log_compile(eager: dict, compiled: dict, images_per_model: int, use: bool, log) -> None:
    rates = ", ".join(
        f"{m} {c['images_per_s']:,.0f} img/s after {c['warmup_seconds']:.0f} s of graphs"
        for m, c in compiled.items()
    )
    log(
        f"self-check compiled: {rates}; training would take {training_seconds(compiled, images_per_model):,.0f} s "
        f"compiled against {training_seconds(eager, images_per_model):,.0f} s eager: "
        + ("compiled" if use else "eager (compiling does not pay)")
    )
