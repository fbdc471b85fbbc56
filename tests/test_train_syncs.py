"""The training loop moves nothing between host and device inside its steps.

On a GPU every host-device copy from pageable memory, and every read of a device value, blocks the
host until the device's queue drains; the loop is built to wait only every SYNC_EVERY steps (loss
check, progress) and to upload once per epoch (its batch order, CutMix's partner permutations).
A CPU has no such copies to see, so this test records the calls that would make one: tensors made
from host data (torch.tensor, torch.as_tensor, torch.from_numpy), moves to a device (.to with a
device, .cuda), and reads of device values (.item, .tolist, .cpu, .numpy, bool, int, float,
nonzero), each tagged with the last step finished when it was made.
"""

from __future__ import annotations

import torch
from test_train import tiny_cfg, tiny_splits
from torch.overrides import TorchFunctionMode

import pipeline.train as train_mod
from pipeline.data import normalize_batch

UPLOADS = {"tensor", "as_tensor", "from_numpy", "cuda"}
READS = {"item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "nonzero"}


class Transfers(TorchFunctionMode):
    """Every call that would copy between host and device, as (what, last step finished)."""

    def __init__(self):
        super().__init__()
        self.step, self.seen = 0, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        moves = name == "to" and (
            "device" in kwargs or any(isinstance(a, (str, torch.device)) for a in args[1:])
        )
        if name in UPLOADS | READS or moves:
            self.seen.append((name, self.step))
        return func(*args, **kwargs)


def _one_epoch(monkeypatch, model: str) -> tuple[list[tuple[str, int]], int]:
    """The transfers of one training epoch of 40 steps, CutMix in every batch of the cutmix model."""
    cfg = tiny_cfg(model, batch_size=4, cutmix_prob=1.0 if model == "cutmix" else 0.0)
    train = tiny_splits(n_train=158).train  # 40 steps, the last one of 2 images
    run = train_mod._new_run(cfg.train, torch.device("cpu"), compile=False)
    mode = Transfers()
    real_from_numpy = torch.from_numpy

    def from_numpy(array):
        mode.seen.append(("from_numpy", mode.step))
        return real_from_numpy(array)

    monkeypatch.setattr(torch, "from_numpy", from_numpy)

    def on_step(epoch: int, step: int) -> None:
        mode.step = step

    normalize_batch(train.images[:1])  # the normalisation constants, made once per device
    with mode:
        train_mod._train_epoch(run, train, cfg.train, 1, on_step, None)
    return mode.seen, 40


def _per_step(seen: list[tuple[str, int]], steps: int) -> list[tuple[str, int]]:
    """The transfers made inside steps: after step 1 began and not at a sync (a multiple of
    SYNC_EVERY, or the last step), where the host waits by design."""
    syncs = {s for s in range(1, steps + 1) if s % train_mod.SYNC_EVERY == 0 or s == steps}
    return [(name, step) for name, step in seen if step > 0 and not (name in READS and step in syncs)]


def test_a_cutmix_epoch_uploads_once_and_reads_only_at_its_syncs(monkeypatch):
    seen, steps = _one_epoch(monkeypatch, "cutmix")
    assert _per_step(seen, steps) == []
    assert [name for name, step in seen if step == 0 and name in UPLOADS] == ["from_numpy"]  # partners


def test_a_baseline_epoch_makes_no_transfer_inside_its_steps(monkeypatch):
    seen, steps = _one_epoch(monkeypatch, "baseline")
    assert _per_step(seen, steps) == []
    assert [s for _, s in seen if s > 0] != []  # the syncs themselves are seen: the recorder works
