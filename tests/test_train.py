"""Training (pipeline/train.py) at tiny scale on CPU: reproducible, resumable bitwise, safe on NaN.

Most tests swap ResNet-18 for a tiny network (only the loop's logic is under test there); the
resume test uses the real build_model.
"""

from __future__ import annotations

import dataclasses
import json
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import pipeline.train as train_mod
from pipeline.checkpoint import CheckpointError, read_checkpoint
from pipeline.config import RunConfig, run_config
from pipeline.data import Split
from pipeline.train import TrainingError, estimate_cpu_hours, train_run

HISTORY_KEYS = {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "images_per_s"}
TIMING = ("seconds", "images_per_s")


class Interrupted(Exception):
    """Stands for a kill in the middle of an epoch."""


def tiny_splits(n_train: int = 64, n_val: int = 32) -> SimpleNamespace:
    """A learnable stand-in for data.Splits: class c is a grey level 25·c plus noise (10 classes)."""
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> Split:
        labels = torch.arange(n, dtype=torch.int64) % 10
        base = (labels * 25).to(torch.uint8)[:, None, None, None]
        noise = torch.randint(0, 30, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
        return Split(base + noise, labels)

    return SimpleNamespace(
        train=split(n_train), val=split(n_val), split_hash="0123456789abcdef", source="synthetic"
    )


def tiny_cfg(model: str = "cutmix", **train) -> RunConfig:
    cfg = run_config("smoke", model)
    settings = {"epochs": 3, "batch_size": 32, "milestones": (2,), **train}
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **settings))


def tiny_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 100),
    )


@pytest.fixture
def tiny_model(monkeypatch):
    monkeypatch.setattr(train_mod, "build_model", tiny_net)


def weights(run_dir) -> dict:
    return read_checkpoint(run_dir / "checkpoint.pt")["model"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


def interrupt_at(epoch: int, step: int):
    def on_step(e: int, s: int) -> None:
        if (e, s) == (epoch, step):
            raise Interrupted

    return on_step


def test_same_seed_twice_gives_identical_history_and_weights(tmp_path, tiny_model):
    cfg, splits = tiny_cfg(), tiny_splits()
    a = train_run(cfg, splits, tmp_path / "a", "cpu", progress=False)
    b = train_run(cfg, splits, tmp_path / "b", "cpu", progress=False)
    assert without_timing(a) == without_timing(b)
    assert_same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))


def test_another_seed_gives_other_weights(tmp_path, tiny_model):
    splits = tiny_splits()
    train_run(tiny_cfg(epochs=1), splits, tmp_path / "a", "cpu", progress=False)
    train_run(tiny_cfg(epochs=1, seed=7), splits, tmp_path / "b", "cpu", progress=False)
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert not torch.equal(a["5.weight"], b["5.weight"])


def test_killed_mid_epoch_and_resumed_is_bitwise_identical(tmp_path, tiny_model):
    """CutMix on, so the numpy generator's state must survive too; the kill is past the milestone's epoch."""
    cfg, splits = tiny_cfg(), tiny_splits()
    whole = train_run(cfg, splits, tmp_path / "whole", "cpu", progress=False)
    with pytest.raises(Interrupted):
        train_run(cfg, splits, tmp_path / "cut", "cpu", on_step=interrupt_at(2, 2), progress=False)
    assert read_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 1
    resumed = train_run(cfg, splits, tmp_path / "cut", "cpu", progress=False)
    assert without_timing(resumed) == without_timing(whole)
    assert [row["lr"] for row in resumed] == pytest.approx([0.1, 0.1, 0.01])
    assert_same_weights(weights(tmp_path / "whole"), weights(tmp_path / "cut"))
    saved = read_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    assert len(saved["provenance"]["resumed"]) == 1
    assert saved["optimizer"]["state"]  # momentum buffers were saved and compared implicitly by the weights


@pytest.fixture
def one_thread():
    """One intra-op thread: on two shared cores, two threads that wait on each other are slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_resume_with_the_real_resnet18_is_bitwise_identical(tmp_path, one_thread):
    """The same with the real build_model (BatchNorm statistics, channels_last), kept tiny: 72 images."""
    cfg = tiny_cfg(epochs=2, batch_size=8, milestones=(1,))
    splits = tiny_splits(n_train=16, n_val=8)
    whole = train_run(cfg, splits, tmp_path / "whole", "cpu", progress=False)
    with pytest.raises(Interrupted):
        train_run(cfg, splits, tmp_path / "cut", "cpu", on_step=interrupt_at(2, 1), progress=False)
    resumed = train_run(cfg, splits, tmp_path / "cut", "cpu", progress=False)
    assert without_timing(resumed) == without_timing(whole)
    assert_same_weights(weights(tmp_path / "whole"), weights(tmp_path / "cut"))


def test_finished_run_is_returned_without_training(tmp_path, tiny_model):
    cfg, splits = tiny_cfg(epochs=1), tiny_splits()
    first = train_run(cfg, splits, tmp_path, "cpu", progress=False)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    again = train_run(cfg, splits, tmp_path, "cpu", on_step=interrupt_at(1, 1), progress=False)
    assert again == first
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_checkpoint_of_another_config_is_refused(tmp_path, tiny_model):
    splits = tiny_splits()
    train_run(tiny_cfg(epochs=1), splits, tmp_path, "cpu", progress=False)
    with pytest.raises(CheckpointError, match=r"train\.lr \(0\.1 != 0\.05\)") as err:
        train_run(tiny_cfg(epochs=1, lr=0.05), splits, tmp_path, "cpu", progress=False)
    assert "\n" not in str(err.value)


def test_nan_loss_stops_naming_epoch_and_step_and_keeps_the_checkpoint(tmp_path, tiny_model, monkeypatch):
    cfg, splits = tiny_cfg(), tiny_splits()  # 2 steps per epoch
    real, calls, kept = train_mod.mixed_loss, [], {}

    def poisoned(*args, **kwargs):
        calls.append(1)
        loss = real(*args, **kwargs)
        return loss * float("nan") if len(calls) == 3 else loss  # epoch 2, step 1

    def remember(epoch: int, step: int) -> None:
        if (epoch, step) == (2, 1):
            kept["bytes"] = (tmp_path / "checkpoint.pt").read_bytes()

    monkeypatch.setattr(train_mod, "mixed_loss", poisoned)
    with pytest.raises(TrainingError, match=r"nan at epoch 2, step 1 of 2.*epoch 1\) is kept"):
        train_run(cfg, splits, tmp_path, "cpu", on_step=remember, progress=False)
    assert (tmp_path / "checkpoint.pt").read_bytes() == kept["bytes"]
    assert len(json.loads((tmp_path / "history.json").read_text())["epochs"]) == 1


def test_huge_learning_rate_diverges_into_a_training_error(tmp_path, tiny_model):
    with pytest.raises(TrainingError, match=r"at epoch 1, step \d+ of 2.*no checkpoint was written"):
        train_run(tiny_cfg(lr=1e30), tiny_splits(), tmp_path, "cpu", progress=False)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_history_json_rows_and_schedule(tmp_path, tiny_model):
    history = train_run(tiny_cfg(model="baseline"), tiny_splits(), tmp_path, "cpu", progress=False)
    stored = json.loads((tmp_path / "history.json").read_text())
    assert stored["epochs"] == history
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert [row["lr"] for row in history] == pytest.approx([0.1, 0.1, 0.01])  # milestone after epoch 2
    for row in history:
        assert set(row) == HISTORY_KEYS
        assert 0.0 <= row["train_acc"] <= 1.0 and 0.0 <= row["val_acc"] <= 1.0
        assert row["train_loss"] > 0 and row["val_loss"] > 0 and row["images_per_s"] > 0
    prov = stored["provenance"]
    assert prov["split_hash"] == "0123456789abcdef" and prov["data_source"] == "synthetic"
    assert prov["config"]["model"] == "baseline" and prov["device"] == "cpu"


def test_last_partial_batch_is_kept(tmp_path, tiny_model):
    steps = []
    train_run(
        tiny_cfg(epochs=1),
        tiny_splits(n_train=70),
        tmp_path,
        "cpu",
        on_step=lambda e, s: steps.append(s),
        progress=False,
    )
    assert steps == [1, 2, 3]  # 32 + 32 + 6 images


def test_plain_log_line_per_epoch_off_a_terminal(tmp_path, tiny_model, capsys):
    train_run(tiny_cfg(epochs=2), tiny_splits(), tmp_path, "cpu", progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("smoke/cutmix epoch 2/2: train loss")


def test_estimate_cpu_hours():
    paper = run_config("paper", "baseline")
    # 50 epochs × (45,000 images trained + 5,000 predicted), at the rates measured for each precision
    assert estimate_cpu_hours(paper) == pytest.approx(50 * (45_000 / 67 + 5_000 / 198) / 3600)
    assert estimate_cpu_hours(paper, "bf16") == pytest.approx(50 * (45_000 / 170 + 5_000 / 644) / 3600)
    assert estimate_cpu_hours(run_config("smoke", "cutmix")) < 0.05


def test_bf16_training_runs_and_records_its_precision(tmp_path):
    from pipeline.checkpoint import read_checkpoint

    history = train_run(tiny_cfg(epochs=1), tiny_splits(), tmp_path, "cpu", precision="bf16", progress=False)
    assert (
        len(history) == 1
        and math.isfinite(history[0]["train_loss"])
        and math.isfinite(history[0]["val_loss"])
    )
    assert read_checkpoint(tmp_path / "checkpoint.pt")["provenance"]["precision"] == "bf16"


def test_augment_off_feeds_the_images_only_normalised():
    from pipeline.data import normalize_batch
    from pipeline.train import _inputs

    images = tiny_splits().train.images[:4]
    g = torch.Generator().manual_seed(0)
    torch.testing.assert_close(_inputs(images, g, tiny_cfg(augment=False).train), normalize_batch(images))
    assert not torch.equal(_inputs(images, g, tiny_cfg(augment=True).train), normalize_batch(images))


def test_each_epoch_is_announced_once_its_checkpoint_and_history_are_saved(tmp_path, tiny_model):
    from pipeline.historyfile import load_history

    seen = []

    def on_epoch(row: dict) -> None:
        saved = load_history(tmp_path / "history.json")
        seen.append((row["epoch"], len(saved), saved[-1]["epoch"]))

    history = train_run(tiny_cfg(epochs=2), tiny_splits(), tmp_path, "cpu", on_epoch=on_epoch, progress=False)
    assert seen == [(1, 1, 1), (2, 2, 2)] and [r["epoch"] for r in history] == [1, 2]


def test_a_run_records_that_its_fp32_is_ieee_fp32_not_tf32(tmp_path):
    """cuDNN's fp32 convolutions default to TF32; training sets IEEE fp32 and says so in its provenance."""
    torch.backends.cudnn.conv.fp32_precision = "tf32"  # the default of a fresh process
    train_run(tiny_cfg(epochs=1), tiny_splits(), tmp_path, "cpu", progress=False)
    prov = json.loads((tmp_path / "history.json").read_text())["provenance"]
    assert prov["fp32_math"] == {"cudnn_conv": "ieee", "cuda_matmul": "ieee"}
    assert torch.backends.cudnn.conv.fp32_precision == "ieee"
