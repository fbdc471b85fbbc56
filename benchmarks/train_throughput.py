"""Training images/s: our step against the usual DataLoader loop, in one run on one device.

Ours is the production hot path of pipeline/train.py (airbench's way): the split as one uint8
tensor on the device, crop, flip and normalise per batch on the device (data.augment_batch),
channels_last, and on CUDA bf16 autocast and fused SGD. The reference is the common CIFAR recipe
(e.g. kuangliu/pytorch-cifar): a torch DataLoader over a Dataset of PIL images with torchvision's
RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor and Normalize, NCHW fp32. Both train the
same model (build_model, same init) with the same optimiser settings on the same random images.

    .venv/bin/python benchmarks/train_throughput.py [--device cuda] [--steps 20] [--batch-size 128]

Prints both rates and their ratio, with no target: on the CPU both loops sit at the same fp32
convolution limit and the ratio moved between 1.1 and 1.7 from one machine to the next, so it
says where the data path matters (a GPU), not whether ours is good enough. The CPU's lever is the
arithmetic: benchmarks/precision_throughput.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from pipeline.config import run_config  # noqa: E402
from pipeline.data import CIFAR_MEAN, CIFAR_STD, Split, augment_batch  # noqa: E402
from pipeline.model import build_model  # noqa: E402
from pipeline.train import _new_run, _step  # noqa: E402  (the production step itself, not a copy)


class ImageDataset(Dataset):
    """uint8 (N, 32, 32, 3) images as PIL images through a transform, as torchvision's CIFAR100 does."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: transforms.Compose) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ours(images: np.ndarray, labels: np.ndarray, device: torch.device, batch: int):
    """A function running n training steps of pipeline/train.py's loop; returns seconds taken."""
    base = run_config("paper", "baseline")
    cfg = dataclasses.replace(base.train, batch_size=batch)
    run = _new_run(cfg, device, compile=False)
    split = Split(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)).to(
        device
    )
    order = torch.randperm(len(labels), generator=run.generator, device=device)
    cursor = [0]

    def steps(n: int) -> float:
        _sync(device)
        start = time.perf_counter()
        for _ in range(n):
            idx = order[cursor[0] : cursor[0] + batch]
            cursor[0] += batch
            _step(run, augment_batch(split.images[idx], run.generator), split.labels[idx], cfg)
        _sync(device)
        return time.perf_counter() - start

    return steps


def reference(images: np.ndarray, labels: np.ndarray, device: torch.device, batch: int, workers: int):
    """The same, the usual way: DataLoader, torchvision transforms on PIL images, NCHW fp32."""
    cfg = run_config("paper", "baseline").train
    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
        ]
    )
    loader = DataLoader(
        ImageDataset(images, labels, transform),
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(0),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)  # the same initial weights as ours
        model = build_model().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    batches = iter(loader)

    def steps(n: int) -> float:
        _sync(device)
        start = time.perf_counter()
        for _ in range(n):
            x, y = next(batches)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(device)
        return time.perf_counter() - start

    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps per loop (default 20 on CPU, 200 on CUDA)"
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed steps first (allocator, cuDNN, workers)"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--workers", type=int, default=2, help="DataLoader workers of the reference (kuangliu uses 2)"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    steps = args.steps or (200 if device.type == "cuda" else 20)
    chunk = (
        1 if device.type == "cpu" else 20
    )  # steps per turn: the loops take turns, so drifting load hits both

    rng = np.random.default_rng(0)
    n = (args.warmup + steps) * args.batch_size
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)  # HWC, as CIFAR's pickles unpack
    labels = rng.integers(0, 100, size=n).astype(np.int64)

    loops = {
        "ours": ours(images, labels, device, args.batch_size),
        "reference": reference(images, labels, device, args.batch_size, args.workers),
    }
    times: dict[str, list[float]] = {name: [] for name in loops}  # seconds per turn
    for run in loops.values():
        run(args.warmup)
    for _ in range(steps // chunk):
        for name, run in loops.items():
            times[name].append(run(chunk))

    images_per_turn = chunk * args.batch_size
    total = {name: len(t) * images_per_turn / sum(t) for name, t in times.items()}
    median = {name: images_per_turn / float(np.median(t)) for name, t in times.items()}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"device {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"batch {args.batch_size}, {steps} timed steps per loop taking turns {chunk} at a time, "
        f"reference workers {args.workers}"
    )
    print(f"{'':10s} {'all steps':>12s} {'median turn':>12s}   (images/s)")
    for key in loops:
        print(f"{key:10s} {total[key]:12.1f} {median[key]:12.1f}")
    ratio, ratio_median = total["ours"] / total["reference"], median["ours"] / median["reference"]
    print(f"{'ratio':10s} {ratio:12.2f} {ratio_median:12.2f}   (no target: see the docstring)")


if __name__ == "__main__":
    main()
