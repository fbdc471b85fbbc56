"""Checkpoints and weights files (pipeline/checkpoint.py), and the provenance they carry."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

import pipeline.checkpoint as ckpt
from pipeline.checkpoint import (
    FORMAT,
    CheckpointError,
    load_checkpoint,
    load_weights_file,
    read_checkpoint,
    restore_rng,
    restore_scheduler,
    rng_state,
    save_checkpoint,
    scheduler_state,
    write_history,
)
from pipeline.config import config_hash, run_config, to_dict
from pipeline.model import build_model
from pipeline.provenance import provenance


@pytest.fixture(scope="module")
def resnet_state() -> dict:
    """One ResNet-18 state_dict, built once: the model is the slow part of these tests."""
    return build_model().state_dict()


def _state(model: nn.Module, cfg=None, step: bool = True) -> dict:
    """A training state as train.py saves it; `step` fills the momentum buffers with one SGD step."""
    cfg = cfg or run_config("smoke", "cutmix")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [1, 3], gamma=0.1)
    if step:
        model(torch.randn(2, 3, 32, 32)).sum().backward()
        opt.step()
        sched.step()
    return {
        "format": FORMAT,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": scheduler_state(sched),
        "rng": rng_state(torch.Generator().manual_seed(1), np.random.default_rng(1)),
        "epoch": 1,
        "history": [{"epoch": 1, "train_loss": 4.5, "lr": 0.1}],
        "config": to_dict(cfg),
        "provenance": provenance(cfg, "abc", "cpu", "synthetic"),
    }


def _small() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(10))


def test_round_trip_loads_under_weights_only(tmp_path):
    state = _state(_small())
    save_checkpoint(tmp_path / "c.pt", state)
    back = torch.load(tmp_path / "c.pt", weights_only=True)  # raises if anything is not allowed
    assert back["epoch"] == 1 and back["history"] == state["history"] and back["config"] == state["config"]
    for k, v in state["model"].items():
        assert torch.equal(back["model"][k], v)
    assert back["provenance"] == state["provenance"]
    assert back["optimizer"]["state"][0]["momentum_buffer"].shape == (4, 3, 3, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left


def test_scheduler_state_survives_as_plain_dict():
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [2, 3], gamma=0.1)
    state = scheduler_state(sched)
    assert type(state["milestones"]) is dict
    fresh = torch.optim.lr_scheduler.MultiStepLR(
        torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), [2, 3]
    )
    restore_scheduler(fresh, state)
    assert isinstance(fresh.milestones, Counter) and fresh.milestones[1] == 0


def test_rng_states_round_trip():
    gen, rng = torch.Generator().manual_seed(5), np.random.default_rng(5)
    torch.rand(3, generator=gen), rng.random()
    saved = rng_state(gen, rng)
    want = (torch.rand(4, generator=gen), rng.random(4), torch.rand(2))
    restore_rng(saved, gen, rng, Path("c.pt"))
    got = (torch.rand(4, generator=gen), rng.random(4), torch.rand(2))
    assert torch.equal(want[0], got[0]) and np.array_equal(want[1], got[1]) and torch.equal(want[2], got[2])


@pytest.mark.parametrize("trained, resumed", [("cpu", "cuda"), ("cuda", "cpu")])
def test_a_state_of_another_devices_generator_is_refused_in_one_line(trained, resumed):
    """A CUDA generator's state is a 16-byte Philox seed and offset, a CPU one's a 5,056-byte
    Mersenne Twister: faked here on the CPU, with and without the recorded device type."""
    cpu_state = rng_state(torch.Generator().manual_seed(1), np.random.default_rng(1))
    fake_cuda = {**cpu_state, "device": torch.zeros(16, dtype=torch.uint8), "device_type": "cuda"}
    state = cpu_state if trained == "cpu" else fake_cuda
    generator = torch.Generator()
    if resumed == "cuda":  # a generator that says it is a CUDA one
        generator = SimpleNamespace(device=torch.device("cuda"), set_state=generator.set_state)
    for saved in (state, {k: v for k, v in state.items() if k != "device_type"}):  # older files: by size
        with pytest.raises(CheckpointError) as err:
            restore_rng(saved, generator, np.random.default_rng(0), Path("run/checkpoint.pt"))
        message = str(err.value)
        assert "\n" not in message and message.startswith("run/checkpoint.pt was trained on " + trained)
        assert f"cannot resume on {resumed}" in message and "--retrain" in message


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, _state(_small()))
    before = path.read_bytes()

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _state(_small()))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


@pytest.mark.parametrize("keep", [0, 10, 0.5, -10])
def test_truncated_checkpoint_gives_one_clear_line(tmp_path, keep):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, _state(_small()))
    raw = path.read_bytes()
    cut = int(len(raw) * keep) if isinstance(keep, float) else keep % len(raw)
    path.write_bytes(raw[:cut])
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "delete it" in message


def test_foreign_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_of_another_config_names_the_fields(tmp_path):
    cfg = run_config("smoke", "cutmix")
    save_checkpoint(tmp_path / "c.pt", _state(_small(), cfg))
    assert load_checkpoint(tmp_path / "c.pt", cfg)["epoch"] == 1
    other = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=9, seed=1))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "c.pt", other)
    message = str(err.value)
    assert "train.epochs (2 != 9)" in message and "train.seed (42 != 1)" in message and "\n" not in message


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    save_checkpoint(tmp_path / "c.pt", _state(_small()))
    with pytest.raises(CheckpointError, match="missing keys .*unexpected keys") as err:
        load_weights_file(tmp_path / "c.pt", build_model())
    assert str(tmp_path / "c.pt") in str(err.value)


def _kuangliu(state: dict) -> dict:
    """The same weights under kuangliu/pytorch-cifar's names (linear, shortcut)."""
    return {k.replace(".downsample.", ".shortcut.").replace("fc.", "linear.", 1): v for k, v in state.items()}


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: s,
        lambda s: {"state_dict": s},
        lambda s: {"net": _kuangliu(s), "acc": 61.2, "epoch": 49},
        lambda s: {"model": {"module." + k: v for k, v in s.items()}},
    ],
    ids=["bare", "state_dict", "kuangliu_net", "model_dataparallel"],
)
def test_weights_files_in_the_usual_layouts_load(tmp_path, resnet_state, wrap):
    path = tmp_path / "w.pt"
    torch.save(wrap(resnet_state), path)
    model = load_weights_file(path, build_model())
    for k, v in model.state_dict().items():
        assert torch.equal(v, resnet_state[k]), k


def test_our_checkpoint_loads_as_weights_and_checks_its_config(tmp_path, resnet_state):
    model = build_model()
    model.load_state_dict(resnet_state)
    cfg = run_config("smoke", "cutmix")
    save_checkpoint(tmp_path / "c.pt", _state(model, cfg, step=False))
    saved = read_checkpoint(tmp_path / "c.pt")["model"]
    loaded = load_weights_file(tmp_path / "c.pt", build_model(), expect=cfg)
    assert all(torch.equal(v, saved[k]) for k, v in loaded.state_dict().items())
    with pytest.raises(CheckpointError, match=r"model \('cutmix' != 'baseline'\)"):
        load_weights_file(tmp_path / "c.pt", build_model(), expect=run_config("smoke", "baseline"))


def test_weights_file_with_python_objects_is_refused(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"model": nn.Linear(2, 2)}, path)  # a pickled module: code, not weights
    with pytest.raises(CheckpointError, match="not a weights-only torch file") as err:
        load_weights_file(path, build_model())
    assert "\n" not in str(err.value)
    torch.save({"acc": 3.0}, path)
    with pytest.raises(CheckpointError, match="holds no state_dict"):
        load_weights_file(path, build_model())


def test_history_json_layout(tmp_path):
    rows = [{"epoch": 1, "train_loss": 4.1, "train_acc": 0.07}]
    write_history(tmp_path / "history.json", {"seed": 42}, rows)
    assert json.loads((tmp_path / "history.json").read_text()) == {"provenance": {"seed": 42}, "epochs": rows}


def test_provenance_fields():
    cfg = run_config("paper", "baseline")
    prov = provenance(cfg, "feed", torch.device("cpu"), "cifar-100")
    assert prov["config"] == to_dict(cfg) and prov["config_hash"] == config_hash(cfg)
    assert prov["split_hash"] == "feed" and prov["data_source"] == "cifar-100"
    assert prov["device"] == "cpu" and prov["seed"] == 42
    assert set(prov["versions"]) == {"python", "torch", "torchvision", "numpy"}
    assert isinstance(prov["git_commit"], str) and prov["git_dirty"] in (True, False, None)
    assert prov["created"].endswith("+00:00")
    assert json.loads(json.dumps(prov)) == prov  # plain JSON types only


LIMITED_SAVE = """
import resource, sys
import torch
from pipeline.checkpoint import KEYS, save_checkpoint
from pipeline.errors import StudyError
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))  # ulimit -f: writes past it fail (EFBIG)
try:
    save_checkpoint(sys.argv[1], dict.fromkeys(KEYS, 0) | {"model": {"w": torch.rand(100_000)}})
except StudyError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
"""


def test_a_checkpoint_over_the_file_size_limit_is_one_line_and_keeps_the_old_one(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"old")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", LIMITED_SAVE, str(path)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stderr == (
        f"file size limit exceeded writing {path}: raise the limit (ulimit -f) or choose another --out\n"
    ), done.stderr
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]
