"""Shared fixtures: tiny generated data in the CIFAR-100 pickle layout, never the real dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-100-python"


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
