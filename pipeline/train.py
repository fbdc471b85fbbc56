"""Training one run (one profile, one model): SGD on ResNet-18, with or without CutMix, resumable.

The recipe is the study's (seed §3, §6): SGD with momentum 0.9 and weight decay 5e-4, lr 0.1
multiplied by 0.1 after the configured milestone epochs, batches of 128 (the seed leaves the batch
size open: the usual choice for this recipe), random crop and flip, CutMix with p = 0.5 and label
smoothing 0.1 for the cutmix model.

The hot loop is airbench's (KellerJordan/cifar10-airbench): the whole train split sits on the
device as one uint8 tensor; each epoch draws one permutation from a seeded torch.Generator, slices
batches from it (the last, partial batch included) and crops, flips and normalises them on the
device; no DataLoader. The host waits for the device only every SYNC_EVERY steps, to check the loss
and draw the progress bar.

After every epoch the checkpoint and history.json are written atomically. A run stopped at any
point resumes from the last finished epoch with every RNG state restored, so it ends with bitwise
the same weights as a run never stopped (a test proves it on CPU). On CUDA: bf16 autocast,
channels_last, fused SGD, deterministic cuDNN unless the config trades it for speed, optionally
torch.compile. On CPU: channels_last. The arithmetic is the run's precision (pipeline/precision.py):
bf16 autocast or fp32, for the training steps and the per-epoch validation alike.
"""

from __future__ import annotations

import inspect
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from pipeline.augment import EpochCutMix, mixed_correct, mixed_loss
from pipeline.checkpoint import (
    FORMAT,
    load_checkpoint,
    restore_rng,
    restore_scheduler,
    restore_weights,
    rng_state,
    save_checkpoint,
    scheduler_state,
    write_history,
)
from pipeline.config import RunConfig, TrainConfig, to_dict
from pipeline.data import Split, Splits, augment_batch, normalize_batch
from pipeline.errors import StudyError
from pipeline.model import build_model, to_device
from pipeline.precision import autocast, ieee_fp32
from pipeline.provenance import device_name, git_state, provenance

# Steps between host-device syncs (loss check, progress); every step would stall the GPU queue.
SYNC_EVERY = 16
EVAL_BATCH = 1_000  # images per forward pass when measuring val loss and accuracy

# (training, prediction) images/s on two idle cores of the development Xeon with AMX (ResNet-18,
# CIFAR stem, batch 128, channels_last, torch 2.14.1; benchmarks/precision_throughput.py, measured
# 2026-12-01). The 2026-11-29 figures of 21-27 img/s were taken while other jobs shared the cores.
CPU_IMAGES_PER_S: dict[str, tuple[float, float]] = {"fp32": (67.0, 198.0), "bf16": (170.0, 644.0)}
OFFICIAL_TRAIN_IMAGES = 50_000

OnStep = Callable[[int, int], None]  # (epoch, step), both counted from 1, after each optimiser step
OnEpoch = Callable[[dict], None]  # the epoch's history row, once it and its checkpoint are saved


class TrainingError(StudyError, RuntimeError):
    """Training cannot go on (a non-finite loss); the message names the epoch, the step and the checkpoint kept."""


def estimate_cpu_hours(run_cfg: RunConfig, precision: str = "fp32") -> float:
    """Hours one run's training (with its per-epoch validation) takes on two CPU cores in `precision`.

    For refusing the paper profile on a machine without CUDA with a concrete figure.
    """
    train_rate, predict_rate = CPU_IMAGES_PER_S[precision]
    data = run_cfg.data
    n_train = OFFICIAL_TRAIN_IMAGES - data.val_size
    n_train = min(n_train, data.train_subset) if data.train_subset is not None else n_train
    n_val = min(data.val_size, data.val_subset) if data.val_subset is not None else data.val_size
    per_epoch = n_train / train_rate + n_val / predict_rate  # seconds
    return run_cfg.train.epochs * per_epoch / 3600


# ----------------------------------------------------------------------------- the parts of a run


@dataclass
class _Run:
    """Everything a run changes as it trains; exactly what the checkpoint holds."""

    model: nn.Module  # the module whose state_dict is saved
    net: nn.Module  # what runs: the model, or torch.compile of it (its state_dict keys carry a prefix)
    optimizer: torch.optim.SGD
    scheduler: torch.optim.lr_scheduler.MultiStepLR
    generator: torch.Generator  # on the device: batch order, crop offsets, flips
    rng: np.random.Generator  # CutMix: coin, λ, partner permutation, box centre
    precision: str = "fp32"  # "fp32" or "bf16" (pipeline/precision.py); a setting of the run, not saved state
    epoch: int = 0  # epochs finished
    history: list[dict] = field(default_factory=list)


def _seeded_model(seed: int) -> nn.Module:
    """build_model with a reproducible init.

    torchvision's resnet initialises its weights from torch's global RNG and takes no generator,
    so the global RNG is seeded for construction only; fork_rng restores it afterwards.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model()


def _optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.SGD:
    """SGD as in the study; fused (one kernel for all parameters) on CUDA where this torch has it."""
    fused = device.type == "cuda" and "fused" in inspect.signature(torch.optim.SGD).parameters
    extra = {"fused": True} if fused else {}
    return torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, **extra
    )


def _configure_backends(cfg: TrainConfig, device: torch.device) -> None:
    """Deterministic cuDNN as the study ran it (seed, Reproducibility), or autotuned kernels for speed;
    fp32 as IEEE fp32, not TF32 (pipeline/precision.py)."""
    ieee_fp32()
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = cfg.deterministic
        torch.backends.cudnn.benchmark = not cfg.deterministic


def _new_run(cfg: TrainConfig, device: torch.device, compile: bool, precision: str = "fp32") -> _Run:
    model = to_device(_seeded_model(cfg.seed), device)
    optimizer = _optimizer(model, cfg, device)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(cfg.milestones), gamma=cfg.lr_gamma)
    generator = torch.Generator(device=device)
    generator.manual_seed(cfg.seed)
    net = torch.compile(model) if compile else model
    return _Run(model, net, optimizer, scheduler, generator, np.random.default_rng(cfg.seed), precision)


def _snapshot(run: _Run, run_cfg: RunConfig, prov: dict) -> dict:
    return {
        "format": FORMAT,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": scheduler_state(run.scheduler),
        "rng": rng_state(run.generator, run.rng),
        "epoch": run.epoch,
        "history": run.history,
        "config": to_dict(run_cfg),
        "provenance": prov,
    }


def _restore(run: _Run, saved: dict, path: Path) -> None:
    restore_weights(run.model, saved["model"], path)
    run.optimizer.load_state_dict(saved["optimizer"])
    restore_scheduler(run.scheduler, saved["scheduler"])
    restore_rng(saved["rng"], run.generator, run.rng, path)
    run.epoch, run.history = saved["epoch"], list(saved["history"])


def _resumed(prov: dict, device: torch.device) -> dict:
    """The first start's provenance, with when, where and at which commit the run was resumed."""
    commit, dirty = git_state()
    stamp = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": commit,
        "git_dirty": dirty,
    }
    return {**prov, "resumed": [*prov.get("resumed", []), {**stamp, "device": device_name(device)}]}


# ----------------------------------------------------------------------------- one epoch


def _cutmix(run: _Run, cfg: TrainConfig, batches: list[int], image_size, device) -> EpochCutMix:
    """The CutMix draws of an epoch of these batch sizes (none drawn for a model without CutMix)."""
    return EpochCutMix(batches, image_size, cfg.cutmix_prob, cfg.cutmix_alpha, run.rng, device)


def _step(
    run: _Run,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
    cutmix: EpochCutMix | None = None,
    step: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on normalised batch `step` (0-based) of the epoch, mixed as `cutmix` drew it
    (None: not mixed); returns (batch-mean loss, λ-weighted correct count), on the device."""
    x, y_a, y_b, lam = (x, y, y, 1.0) if cutmix is None else cutmix(step, x, y)
    with autocast(x.device, run.precision):
        logits = run.net(x).float()  # (B, 100), fp32 for the loss
    loss = mixed_loss(logits, y_a, y_b, lam, cfg.label_smoothing)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    run.optimizer.step()
    return loss.detach(), mixed_correct(logits.detach(), y_a, y_b, lam)


def _inputs(images: torch.Tensor, generator: torch.Generator, cfg: TrainConfig) -> torch.Tensor:
    """A batch as the network sees it: cropped, flipped and normalised, or only normalised (cfg.augment)."""
    return augment_batch(images, generator) if cfg.augment else normalize_batch(images)


def _check_finite(losses: torch.Tensor, first: int, epoch: int, steps: int) -> None:
    """Raise TrainingError at the first non-finite loss; losses[i] is the loss of step first + i (0-based)."""
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        i = int(bad[0])
        raise TrainingError(
            f"the loss became {losses[i].item()} at epoch {epoch}, step {first + i + 1} of {steps}"
        )


def _train_epoch(
    run: _Run, train: Split, cfg: TrainConfig, epoch: int, on_step: OnStep | None, bar: tqdm | None
) -> tuple[float, float]:
    """One pass over the train split; returns (mean loss, λ-weighted accuracy)."""
    run.net.train()
    n, size = len(train.labels), cfg.batch_size
    steps = math.ceil(n / size)  # the last, partial batch is kept
    device = train.images.device
    order = torch.randperm(n, generator=run.generator, device=device)
    cutmix = _cutmix(
        run, cfg, [min(size, n - i * size) for i in range(steps)], train.images.shape[-2:], device
    )
    losses = torch.zeros(steps, device=device)  # (steps,) batch-mean losses, checked at each sync
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)  # Σ batch size · batch-mean loss
    correct = torch.zeros((), dtype=torch.float64, device=device)
    checked = 0
    for step in range(steps):
        idx = order[step * size : (step + 1) * size]
        x = _inputs(train.images[idx], run.generator, cfg)
        loss, hits = _step(run, x, train.labels[idx], cfg, cutmix, step)
        losses[step] = loss
        loss_sum += loss.double() * len(idx)
        correct += hits
        if on_step is not None:
            on_step(epoch, step + 1)
        if (step + 1) % SYNC_EVERY == 0 or step + 1 == steps:
            _check_finite(losses[checked : step + 1], checked, epoch, steps)
            seen = min(n, (step + 1) * size)
            if bar is not None:
                bar.update(seen - bar.n)
                bar.set_postfix(loss=f"{loss_sum.item() / seen:.3f}", acc=f"{correct.item() / seen:.3f}")
            checked = step + 1
    return loss_sum.item() / n, correct.item() / n


@torch.no_grad()
def validate(
    net: nn.Module, split: Split, batch_size: int = EVAL_BATCH, precision: str = "fp32"
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on an unaugmented, normalised split, in eval mode.

    Plain cross-entropy for both models: the val loss is the NLL, comparable across models,
    whatever label smoothing the training loss used.
    """
    net.eval()
    device = split.images.device
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for i in range(0, len(split.labels), batch_size):
        y = split.labels[i : i + batch_size]
        with autocast(device, precision):
            logits = net(normalize_batch(split.images[i : i + batch_size])).float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
        correct += (logits.argmax(dim=1) == y).sum()
    n = len(split.labels)
    return loss_sum.item() / n, correct.item() / n


def _epoch(
    run: _Run,
    train: Split,
    val: Split,
    run_cfg: RunConfig,
    epoch: int,
    on_step: OnStep | None,
    progress: bool,
) -> dict:
    """Train one epoch, validate, step the schedule; the history.json row (pipeline/RESULTS.md)."""
    cfg = run_cfg.train
    lr = run.optimizer.param_groups[0]["lr"]  # the rate used during this epoch
    use_bar = progress and sys.stderr.isatty()
    bar = tqdm(total=len(train.labels), desc=f"epoch {epoch}/{cfg.epochs}", unit="img") if use_bar else None
    start = time.perf_counter()
    train_loss, train_acc = _train_epoch(run, train, cfg, epoch, on_step, bar)  # ends with a host sync
    train_seconds = time.perf_counter() - start
    val_loss, val_acc = validate(run.net, val, precision=run.precision)
    run.scheduler.step()
    row = {
        "epoch": epoch,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "lr": lr,
        "seconds": round(time.perf_counter() - start, 3),
        "images_per_s": round(len(train.labels) / train_seconds, 1),
    }
    _report(row, run_cfg, bar, progress)
    return row


def _report(row: dict, run_cfg: RunConfig, bar: tqdm | None, progress: bool) -> None:
    """The bar's final state on a terminal; otherwise one plain line per epoch on stderr."""
    if bar is not None:
        bar.set_postfix(
            loss=f"{row['train_loss']:.3f}", acc=f"{row['train_acc']:.3f}", val_acc=f"{row['val_acc']:.3f}"
        )
        bar.close()
    elif progress:
        print(
            f"{run_cfg.profile}/{run_cfg.model} epoch {row['epoch']}/{run_cfg.train.epochs}: "
            f"train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f}, "
            f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f}, lr {row['lr']:g}, "
            f"{row['seconds']:.1f} s, {row['images_per_s']:.0f} img/s",
            file=sys.stderr,
            flush=True,
        )


# ----------------------------------------------------------------------------- a self-check


def self_check(
    run_cfg: RunConfig,
    train: Split,
    device: torch.device,
    *,
    compile: bool,
    precision: str,
    steps: int = 20,
    short_batch: int = 0,
) -> dict[str, float]:
    """`steps` SGD steps of a fresh model on the first batches of `train` (already on `device`), with
    this compile choice and precision, through the same step as a real run; then, as every epoch
    has them, one step of `short_batch` images (the epoch's last, partial batch; 0: none) and one
    validation batch.

    Raises what they raise (a compiler or kernel error), TrainingError on a non-finite loss. Returns
    `images_per_s`, the rate of the full-size steps after the first, and `warmup_seconds`, what the
    first step, the short one and the validation batch took beyond as many steady steps: the cost
    of building their graphs, which a compiled trainer pays again at its start.
    """
    cfg = run_cfg.train
    _configure_backends(cfg, device)
    run = _new_run(cfg, device, compile, precision)
    run.net.train()
    sizes = [cfg.batch_size] * steps + ([short_batch] if short_batch else [])
    cutmix = _cutmix(run, cfg, sizes, train.images.shape[-2:], device)

    def timed(work) -> float:
        synchronize(device)
        started = time.perf_counter()
        work()
        synchronize(device)
        return time.perf_counter() - started

    losses: list[torch.Tensor] = []

    def batch(step: int) -> None:
        idx = torch.arange(step * cfg.batch_size, step * cfg.batch_size + sizes[step], device=device) % len(
            train
        )
        x = _inputs(train.images[idx], run.generator, cfg)
        losses.append(_step(run, x, train.labels[idx], cfg, cutmix, step)[0])

    first = timed(lambda: batch(0))
    steady = timed(lambda: [batch(step) for step in range(1, steps)])
    step_seconds = steady / max(steps - 1, 1)
    extra = timed(lambda: batch(steps)) if short_batch else 0.0
    val = Split(train.images[: cfg.batch_size], train.labels[: cfg.batch_size])
    extra += timed(lambda: validate(run.net, val, cfg.batch_size, precision))
    _check_finite(torch.stack(losses).cpu(), 0, 0, len(losses))
    warmup = first + extra - (3 if short_batch else 2) * step_seconds
    return {"images_per_s": cfg.batch_size / max(step_seconds, 1e-9), "warmup_seconds": max(0.0, warmup)}


def synchronize(device: torch.device) -> None:
    """Wait for the device's queue to drain, so that a host clock measures the work queued before."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------- the run


def train_run(
    run_cfg: RunConfig,
    splits: Splits,
    run_dir: Path,
    device: torch.device | str,
    *,
    compile: bool = False,
    precision: str = "fp32",
    on_step: OnStep | None = None,
    on_epoch: OnEpoch | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train one run into run_dir (checkpoint.pt, history.json) and return its history rows.

    `splits` is a data.Splits (train, val, split_hash and source are read). A finished checkpoint
    of the same config is returned as it is; an unfinished one is resumed; one of another config
    is refused (CheckpointError). A non-finite loss raises TrainingError and leaves the last
    checkpoint as it was.
    """
    device, run_dir = torch.device(device), Path(run_dir)
    ckpt_path, history_path = run_dir / "checkpoint.pt", run_dir / "history.json"
    saved = load_checkpoint(ckpt_path, run_cfg) if ckpt_path.exists() else None
    if saved is not None and saved["epoch"] >= run_cfg.train.epochs:
        if not history_path.exists():
            write_history(history_path, saved["provenance"], saved["history"])
        return saved["history"]

    _configure_backends(run_cfg.train, device)
    run = _new_run(run_cfg.train, device, compile, precision)
    if saved is not None:
        _restore(run, saved, ckpt_path)
        prov = _resumed(saved["provenance"], device)
    else:
        prov = provenance(run_cfg, splits.split_hash, device, splits.source, precision)
    train, val = splits.train.to(device), splits.val.to(device)
    for epoch in range(run.epoch + 1, run_cfg.train.epochs + 1):
        try:
            row = _epoch(run, train, val, run_cfg, epoch, on_step, progress)
        except TrainingError as err:
            kept = f"{ckpt_path} (epoch {run.epoch}) is kept" if run.epoch else "no checkpoint was written"
            raise TrainingError(f"{err}: training stopped, {kept}; try a lower learning rate") from None
        run.history.append(row)
        run.epoch = epoch
        save_checkpoint(ckpt_path, _snapshot(run, run_cfg, prov))  # first: history.json never runs ahead
        write_history(history_path, prov, run.history)
        if on_epoch is not None:
            on_epoch(row)
    return run.history
