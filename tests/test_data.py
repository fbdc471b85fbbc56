"""The data module: file checks, the split, the test subset, and augmentation on the device."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torchvision.transforms import v2 as T
from torchvision.transforms.v2 import functional as TF

from pipeline import data
from pipeline.config import DataConfig, run_config
from pipeline.data import (
    CIFAR_MEAN,
    CIFAR_STD,
    DataError,
    augment_batch,
    crop_flip,
    load_splits,
    normalize_batch,
    resolve_data_dir,
    split_indices,
    stratified_test_ids,
)
from pipeline.project import ROOT

TINY = DataConfig(val_size=100)


def test_split_is_disjoint_covers_all_and_is_seeded():
    train, val = split_indices(50_000, 5_000, seed=42)
    assert len(train) == 45_000 and len(val) == 5_000
    assert len(np.intersect1d(train, val)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(50_000))
    again, _ = split_indices(50_000, 5_000, seed=42)
    other, _ = split_indices(50_000, 5_000, seed=43)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_stratified_test_subset_is_balanced_sorted_and_keeps_cases():
    labels = np.repeat(np.arange(10), 50)
    np.random.default_rng(0).shuffle(labels)
    ids = stratified_test_ids(labels, 100, keep=(3, 7, 499, 12_345), seed=0)
    assert np.all(np.diff(ids) > 0)
    assert {3, 7, 499} <= set(ids.tolist())
    assert np.bincount(labels[ids]).tolist() == [10] * 10
    assert np.array_equal(stratified_test_ids(labels, None, (), 0), np.arange(500))


def test_load_splits_sizes_and_unaugmented_views(tiny_cifar):
    splits = load_splits(TINY, tiny_cifar)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (500, 100, 300)
    assert splits.source == "synthetic" and len(splits.class_names) == 100
    raw = pickle.loads((tiny_cifar / "test").read_bytes(), encoding="latin1")
    # val and test are the stored pixels, never augmented; test keeps the official order
    assert torch.equal(splits.test.images, torch.from_numpy(raw["data"].reshape(-1, 3, 32, 32)))
    assert splits.test.images.dtype == torch.uint8 and splits.train.images.dtype == torch.uint8


def test_subsets_take_the_first_of_each_split_and_change_the_split_hash(tiny_cifar):
    full = load_splits(TINY, tiny_cifar)
    small = load_splits(DataConfig(val_size=100, train_subset=50, val_subset=20, test_subset=100), tiny_cifar)
    assert torch.equal(small.train.images, full.train.images[:50])
    assert torch.equal(small.val.labels, full.val.labels[:20])
    assert len(small.test) == 100 and small.split_hash != full.split_hash


def _torchvision_reference(images: torch.Tensor, tops, lefts, flips) -> torch.Tensor:
    """RandomCrop(32, padding=4) + RandomHorizontalFlip + Normalize with the given random choices."""
    out = []
    for img, top, left, flip in zip(images, tops.tolist(), lefts.tolist(), flips.tolist(), strict=True):
        img = TF.crop(TF.pad(img, [4]), top, left, 32, 32)
        img = TF.horizontal_flip(img) if flip else img
        out.append(T.Normalize(CIFAR_MEAN, CIFAR_STD)(img.float() / 255))
    return torch.stack(out)


def test_device_augmentation_equals_torchvision():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=g)
    tops, lefts = torch.randint(0, 9, (2, 16), generator=g)
    flips = torch.rand(16, generator=g) < 0.5
    ours = normalize_batch(crop_flip(images, tops, lefts, flips))
    torch.testing.assert_close(ours, _torchvision_reference(images, tops, lefts, flips), rtol=0, atol=1e-6)


def test_augmentation_is_random_per_sample_and_does_not_touch_its_input():
    images = torch.randint(
        0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    before = images.clone()
    a = augment_batch(images, torch.Generator().manual_seed(0))
    b = augment_batch(images, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and torch.equal(images, before)
    changed = (a != normalize_batch(images)).flatten(1).any(1)
    assert changed.float().mean() > 0.8  # 1 in 18 samples draws the identity (offset 4, 4, no flip)
    assert a.is_contiguous(memory_format=torch.channels_last)


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("CIFAR100_DIR", raising=False)
    assert resolve_data_dir(None) == ROOT / "data" / "cifar-100-python"  # the project's, not the cwd's
    monkeypatch.setenv("CIFAR100_DIR", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path / "cifar-100-python"
    assert resolve_data_dir(tmp_path / "cifar-100-python") == tmp_path / "cifar-100-python"


def test_missing_data_offline_gives_one_clear_line(monkeypatch, tmp_path):
    import torchvision.datasets.utils as tv_utils

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", offline)
    with pytest.raises(DataError, match="put the cifar-100-python folder there") as err:
        load_splits(TINY, tmp_path / "cifar-100-python")
    assert "\n" not in str(err.value)


def test_a_file_that_is_neither_official_nor_rebuilt_is_refused(tiny_cifar, tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name in ("train", "test", "meta"):
        (folder / name).write_bytes((tiny_cifar / name).read_bytes())  # no SYNTHETIC marker: verified
    with pytest.raises(DataError, match="neither the official"):
        load_splits(TINY, folder)
    (folder / "train").write_bytes(b"\x80\x02truncated")
    with pytest.raises(DataError, match="not a readable"):
        data.read_verified(folder / "train")


def test_the_real_copy_passes_its_content_digests(real_cifar):
    splits = load_splits(run_config("smoke", "baseline").data, real_cifar)
    assert splits.source == "cifar-100"
    names = [
        splits.class_names[int(splits.test.labels[list(splits.test_ids).index(i)])]
        for i in (3640, 2372, 8225, 5864, 1214)
    ]
    assert names == ["castle", "house", "television", "sea", "lobster"]


class _Payload:
    """Unpickling this calls os.system: what a crafted dataset file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("name", ["train", "test", "meta"])
def test_a_payload_in_any_dataset_file_never_runs_and_is_one_line(tiny_cifar, tmp_path, name):
    import shutil

    folder = tmp_path / "cifar-100-python"
    shutil.copytree(tiny_cifar, folder)
    marker = tmp_path / "pwned"
    entry = {"data": _Payload(marker), "fine_labels": [0], "coarse_labels": [0]}
    (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
    data.read_folder.cache_clear()
    with pytest.raises(data.DataError) as err:
        data.load_splits(run_config("smoke", "baseline").data, folder)
    assert not marker.exists(), "the payload ran"
    message = str(err.value)
    assert "\n" not in message and str(folder / name) in message and "posix.system" in message


def test_an_array_of_python_objects_is_refused(tmp_path):
    path = tmp_path / "train"
    path.write_bytes(pickle.dumps({"data": np.array([1, "x"], dtype=object)}, protocol=2))
    with pytest.raises(data.DataError, match="array of Python objects"):
        data.read_verified(path)
