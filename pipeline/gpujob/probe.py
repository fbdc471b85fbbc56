"""A trainer's timing of one steady epoch, for the GPU job's projection (pipeline/gpujob/projection.py).

The epoch timed is the second this process trains: the first builds every graph of a compiled
model (the full batch, the short last batch, validation) and pays cuDNN's autotuning. Within it the
time runs from the end of step FROM to the end of the last full-size step, the device's queue
drained at both ends (training only queues work: a host clock alone would stop early by up to
SYNC_EVERY steps). An epoch too short for that window is timed whole, from its history row.
probe.json carries the job's token, so a later job never reads it as its own.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pipeline.files import write_bytes

FROM = 2  # the steps before it may still wait for memory or kernels to settle


class Probe:
    """on_step and on_epoch for train_run: writes run_dir/probe.json once, for this job's second epoch."""

    def __init__(self, run_dir: Path, token: str, n_train: int, batch_size: int, synchronize):
        self.path, self.token, self.batch_size = Path(run_dir) / "probe.json", token, batch_size
        self.full = n_train // batch_size  # the last full-size step
        self.start = min(FROM, self.full - 1)
        self.synchronize = synchronize
        self.first: int | None = None
        self.began: float | None = None
        self.written = False

    def _probed(self, epoch: int) -> bool:
        if self.first is None:
            self.first = epoch
        return epoch == self.first + 1 and not self.written

    def on_step(self, epoch: int, step: int) -> None:
        if not self._probed(epoch) or self.start < 1:
            return
        if step == self.start:
            self.synchronize()
            self.began = time.perf_counter()
        elif step == self.full and self.began is not None:
            self.synchronize()
            seconds = time.perf_counter() - self.began
            self._write(epoch, (self.full - self.start) * self.batch_size / seconds, "steady steps")

    def on_epoch(self, row: dict) -> None:
        if self._probed(row["epoch"]):  # too few steps for the window: the whole epoch's rate
            self._write(row["epoch"], row["images_per_s"], "whole epoch")

    def _write(self, epoch: int, rate: float, how: str) -> None:
        record = {"token": self.token, "epoch": epoch, "images_per_s": rate, "timed": how}
        write_bytes(self.path, json.dumps(record).encode())
        self.written = True
