"""Shared fixtures: tiny generated data in the CIFAR-100 pickle layout, never the real dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests: the same fixed examples on every run of `make test` and CI, so that the suite's
# verdict never depends on the draw ("ci", the default); `make fuzz` explores with fresh random
# examples ("fuzz"), and whatever it finds is added to the test as an @example. too_slow is a
# timing check, so it is off in both: a busy machine must not change a verdict.
QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile(
    "ci", derandomize=True, database=None, max_examples=40, deadline=None, suppress_health_check=QUIET
)
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 500)  # make fuzz FUZZ_EXAMPLES=5000 explores further
settings.register_profile("fuzz", max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=QUIET)
settings.load_profile("ci")  # pytest --hypothesis-profile=fuzz overrides it

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-100-python"


def isolate_build(mp: pytest.MonkeyPatch, root: Path, smoke: dict) -> None:
    """build.py's runs and frozen folders under `root`, and the smoke profile shrunk to `smoke`."""
    import torch

    from commands import workspace
    from pipeline import config

    mp.setattr(workspace, "RUNS", root / "runs")
    mp.setattr(workspace, "FROZEN", root / "frozen")
    mp.setitem(config.PROFILE_OVERRIDES, "smoke", smoke)
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_cifar(tmp_path_factory) -> Path:
    """A 600-train / 300-test synthetic cifar-100-python folder."""
    from pipeline.synthetic import write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("cifar"), n_train=600, n_test=300, seed=1)


@pytest.fixture
def real_cifar() -> Path:
    """The real copy beside the checkout, or a clean skip."""
    folder = Path(os.environ.get("CIFAR100_DIR", SHARED_DATA))
    folder = folder if (folder / "train").exists() else folder / "cifar-100-python"
    if not (folder / "train").exists():
        pytest.skip(f"real CIFAR-100 not found at {folder}")
    return folder
