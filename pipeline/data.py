"""CIFAR-100: finding and verifying the files, the study's split, and augmentation on the device.

The whole split lives on the training device as one uint8 tensor and each batch is cropped,
flipped and normalised there from an explicit generator, as in KellerJordan/cifar10-airbench:
no DataLoader in the hot loop. `crop_flip` is proven equal to torchvision's RandomCrop(32, 4) +
RandomHorizontalFlip by a test.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pipeline import safepickle
from pipeline.config import DataConfig
from pipeline.digests import content_digests
from pipeline.errors import StudyError
from pipeline.project import ROOT

# Per-channel statistics of the CIFAR-100 training images (the values used by the common CIFAR-100
# training recipes, e.g. weiaicunzai/pytorch-cifar100 conf/global_settings.py).
CIFAR_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR_STD = (0.2673, 0.2564, 0.2762)

FOLDER = "cifar-100-python"
ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
ARCHIVE_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
SYNTHETIC_MARKER = "SYNTHETIC"  # file in a folder written by write_synthetic

# A file is accepted when its md5 is the official one, or when its content digests are those of
# the losslessly rebuilt copy (../shared/data/README.md): sha256 of `data` bytes, of `fine_labels`
# as int64, of `coarse_labels` as int64.
OFFICIAL_MD5 = {
    "train": "16019d7e3df5f24257cddd939b257f8d",
    "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
    "meta": "7973b15100ade9c7d40fb424638fde48",
}
REBUILT_DIGESTS = {
    "train": (
        "de64658905c6b161606e3649ddafce7cf86c7634a0cf9116d518e64ef46a33c5",
        "8bf4935e7c77a3096270043c6f3b221b6ecb9c63d1a08608e9af66cff17e977a",
        "9f99c2cdae93cf09da2fc6497c96ab042c6dc02c456a2e86dcffd2305df5a2e9",
    ),
    "test": (
        "83c56492b2c11211ad1bb2dbd4f2eef4170a0441e41a41f3039c3144b1f5a511",
        "80031c23f8300724c6fbc588e4bccbe41c6392041782148727bb497b0132c4ad",
        "e2f01c218d5f70ed60e3d80cb12337f835005bcae62b64fefcaa2b647612af83",
    ),
}


class DataError(StudyError, RuntimeError):
    """The dataset cannot be used; the message names the folder or file and the fix."""


@dataclass
class Split:
    images: torch.Tensor  # uint8 (N, 3, 32, 32)
    labels: torch.Tensor  # int64 (N,)

    def to(self, device: torch.device | str) -> Split:
        return Split(self.images.to(device), self.labels.to(device))

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Splits:
    train: Split
    val: Split
    test: Split
    test_ids: np.ndarray  # int64 (N_test,): official test-set index of each test image
    test_coarse: np.ndarray  # int64 (N_test,): superclass of each test image
    class_names: list[str]
    coarse_names: list[str]
    source: str  # "cifar-100" or "synthetic"
    split_hash: str  # sha256 of the train, val and test indices


# ----------------------------------------------------------------------------- finding the files


def resolve_data_dir(cli_value: str | os.PathLike | None) -> Path:
    """--data-dir, else $CIFAR100_DIR, else data/. Either the cifar-100-python folder or its parent."""
    root = Path(cli_value or os.environ.get("CIFAR100_DIR") or ROOT / "data")  # not the current folder
    return root if root.name == FOLDER or (root / "meta").exists() else root / FOLDER


def ensure_downloaded(folder: Path) -> Path:
    """Download and unpack the official archive (md5-checked by torchvision) when the files are absent."""
    if all((folder / name).exists() for name in OFFICIAL_MD5):
        return folder
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(ARCHIVE_URL, str(folder.parent), md5=ARCHIVE_MD5)
    except Exception as exc:  # any network or archive failure means the same thing to the user
        raise DataError(
            f"CIFAR-100 not found in {folder} and the download failed ({type(exc).__name__}): "
            f"put the {FOLDER} folder there, or pass --data-dir / set CIFAR100_DIR, or use --synthetic"
        ) from None
    return folder


def _content_digests(entry: dict) -> tuple[str, ...]:
    return tuple(content_digests(entry["data"], entry["fine_labels"], entry["coarse_labels"]))


def read_verified(path: Path, verify: bool = True) -> dict:
    """Unpickle one CIFAR-100 file, refusing a file that is neither official nor the rebuilt copy."""
    try:
        raw = path.read_bytes()
        # Allow-listing: a crafted file cannot run code (pipeline/safepickle.py).
        entry = safepickle.loads(raw)
    except FileNotFoundError:
        raise DataError(f"{path} is missing: put the complete {FOLDER} folder there") from None
    except IsADirectoryError:
        raise DataError(
            f"{path} is a folder, not a CIFAR-100 file: put the complete {FOLDER} folder there"
        ) from None
    except safepickle.ForbiddenGlobal as exc:
        raise DataError(f"{path} is refused: {exc}; download the official files again") from None
    except Exception as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise DataError(f"{path} is not a readable CIFAR-100 pickle ({reason}): download it again") from None
    if not isinstance(entry, dict):
        raise DataError(f"{path} is not a CIFAR-100 file (no mapping inside): download it again")
    if not verify or hashlib.md5(raw).hexdigest() == OFFICIAL_MD5[path.name]:
        return entry
    if path.name in REBUILT_DIGESTS and _content_digests(entry) == REBUILT_DIGESTS[path.name]:
        return entry
    raise DataError(
        f"{path} is neither the official CIFAR-100 file (md5) nor the verified rebuilt copy "
        "(content digests): download it again"
    )


@functools.lru_cache(maxsize=1)
def read_folder(folder: str, verify: bool = True) -> tuple[dict, dict, dict]:
    """train, test and meta of a folder, read and verified once per process (a build needs them 4 times)."""
    return tuple(read_verified(Path(folder) / name, verify) for name in ("train", "test", "meta"))


# ----------------------------------------------------------------------------- the study's split


def split_indices(n_train_images: int, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One seeded permutation of the official training images: the last val_size are val (seed §2)."""
    if not 0 < val_size < n_train_images:
        raise DataError(f"val_size {val_size} does not fit {n_train_images} training images")
    perm = np.random.default_rng(seed).permutation(n_train_images)
    return perm[val_size:], perm[:val_size]


def stratified_test_ids(labels: np.ndarray, n: int | None, keep: tuple[int, ...], seed: int) -> np.ndarray:
    """All test IDs in official order, or n of them, equally many per class, always keeping `keep`."""
    if n is None:
        return np.arange(len(labels), dtype=np.int64)
    classes = np.unique(labels)
    per_class = max(1, n // len(classes))
    rng = np.random.default_rng(seed)
    kept = [i for i in keep if 0 <= i < len(labels)]
    chosen = list(kept)
    for c in classes:
        pool = [i for i in rng.permutation(np.flatnonzero(labels == c)) if i not in kept]
        have = sum(labels[i] == c for i in kept)
        chosen += pool[: max(0, per_class - have)]
    return np.sort(np.asarray(chosen, dtype=np.int64))


def hash_indices(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.asarray(a, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def _images(data: np.ndarray) -> torch.Tensor:
    """(N, 3072) rows of R, G, B planes -> uint8 (N, 3, 32, 32)."""
    return torch.from_numpy(np.ascontiguousarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32))


def _subset(split: Split, n: int | None) -> Split:
    return split if n is None else Split(split.images[:n], split.labels[:n])


def load_splits(cfg: DataConfig, folder: Path) -> Splits:
    """The train/val/test splits of the study from a cifar-100-python folder (verified unless synthetic)."""
    synthetic = (folder / SYNTHETIC_MARKER).exists()
    if not synthetic:
        ensure_downloaded(folder)
    train, test, meta = read_folder(str(folder), verify=not synthetic)
    train_idx, val_idx = split_indices(len(train["fine_labels"]), cfg.val_size, cfg.split_seed)
    test_labels = np.asarray(test["fine_labels"], dtype=np.int64)
    test_ids = stratified_test_ids(test_labels, cfg.test_subset, cfg.keep_test_ids, cfg.split_seed)
    images, labels = _images(train["data"]), torch.as_tensor(train["fine_labels"], dtype=torch.int64)
    train_split = _subset(Split(images[train_idx], labels[train_idx]), cfg.train_subset)
    val_split = _subset(Split(images[val_idx], labels[val_idx]), cfg.val_subset)
    return Splits(
        train=train_split,
        val=val_split,
        test=Split(_images(test["data"])[test_ids], torch.from_numpy(test_labels[test_ids])),
        test_ids=test_ids,
        test_coarse=np.asarray(test["coarse_labels"], dtype=np.int64)[test_ids],
        class_names=list(meta["fine_label_names"]),
        coarse_names=list(meta["coarse_label_names"]),
        source="synthetic" if synthetic else "cifar-100",
        split_hash=hash_indices(train_idx[: cfg.train_subset], val_idx[: cfg.val_subset], test_ids),
    )


# ----------------------------------------------------------------------------- batches on the device


@functools.cache
def _mean_std(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The CIFAR-100 mean and std as (1, 3, 1, 1) tensors on `device`, made once per device: a
    tensor made from host numbers is a blocking copy on a GPU, which every batch would wait for.
    Made outside inference mode even when first asked for inside it, so training can use them too."""
    with torch.inference_mode(False):
        return (
            torch.tensor(CIFAR_MEAN, device=device).view(1, 3, 1, 1),
            torch.tensor(CIFAR_STD, device=device).view(1, 3, 1, 1),
        )


def normalize_batch(x: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, 32, 32) -> float32 normalised with the CIFAR-100 mean and std, channels_last."""
    mean, std = _mean_std(x.device)
    out = (x.float().div_(255) - mean).div_(std)
    return out.contiguous(memory_format=torch.channels_last)


def crop_flip(x: torch.Tensor, tops: torch.Tensor, lefts: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Crop 32×32 at (top, left) from each image zero-padded by 4, mirrored where flips is True.

    One gather: the rows and (possibly reversed) columns of every crop are indexed at once.
    """
    b, c, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))  # (B, C, H+8, W+8), zeros as torchvision's RandomCrop(padding=4)
    ar_h, ar_w = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    rows = tops[:, None] + ar_h  # (B, H)
    cols = lefts[:, None] + torch.where(flips[:, None], w - 1 - ar_w, ar_w)  # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows[:, None, :, None], cols[:, None, None, :]]


def augment_batch(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop of the zero-padded image and horizontal flip (p = 0.5), per sample, then normalise (seed §3)."""
    b = x.shape[0]
    offsets = torch.randint(0, 9, (2, b), generator=generator, device=x.device)  # 0..8: 40 - 32 + 1 positions
    flips = torch.rand(b, generator=generator, device=x.device) < 0.5
    return normalize_batch(crop_flip(x, offsets[0], offsets[1], flips))
