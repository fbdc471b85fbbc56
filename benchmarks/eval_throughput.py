"""Images/s of our evaluation against a plain NCHW fp32 loop, on the same device in one run.

Ours (pipeline.evaluate.predict_logits): the split as one device-resident uint8 tensor, each batch
normalised on the device, channels_last, torch.inference_mode. Plain: float tensors normalised on
the host beforehand, the model in its default layout, torch.no_grad. Random weights and images are
enough: throughput does not depend on what the network has learned. No target: on the CPU both
loops are bound by the same convolutions; benchmarks/precision_throughput.py measures
the CPU's real lever, bf16.

    .venv/bin/python benchmarks/eval_throughput.py [--device cuda] [--images 2000] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from pipeline.data import CIFAR_MEAN, CIFAR_STD
from pipeline.evaluate import predict_logits
from pipeline.model import build_model, to_device


def plain_loop(
    model: torch.nn.Module, images: torch.Tensor, device: torch.device, batch_size: int
) -> torch.Tensor:
    """The usual loop: host-normalised NCHW float batches moved to the device, under no_grad."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            out.append(model(images[start : start + batch_size].to(device)).cpu())
    return torch.cat(out)


def host_normalised(images_uint8: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    return (images_uint8.float() / 255 - mean) / std  # (N, 3, 32, 32) float32, NCHW


def images_per_s(fn, n: int, repeats: int, device: torch.device) -> float:
    """Best of `repeats` timed runs after one warm-up (the CPU is shared, so take the least disturbed)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="random test images to classify")
    parser.add_argument("--batch-size", type=int, default=256, help="images per forward pass")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per variant; the best counts")
    parser.add_argument("--device", help="cpu or cuda; default: cuda where there is one")
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(0)
    plain_model = build_model().to(device).eval()  # default (NCHW) layout
    our_model = to_device(copy.deepcopy(plain_model), device).eval()  # channels_last
    images = torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8)
    host = host_normalised(images)
    on_device = images.to(device)
    ours = images_per_s(
        lambda: predict_logits(our_model, on_device, device, args.batch_size),
        args.images,
        args.repeats,
        device,
    )
    plain = images_per_s(
        lambda: plain_loop(plain_model, host, device, args.batch_size), args.images, args.repeats, device
    )
    print(
        f"device {device}, {torch.get_num_threads()} threads, {args.images} images, batch {args.batch_size}"
    )
    print(f"ours  (inference_mode, channels_last, uint8 on device): {ours:8.1f} images/s")
    print(f"plain (no_grad, NCHW fp32, host-normalised):             {plain:8.1f} images/s")
    print(f"ratio ours/plain: {ours / plain:.2f} (no target)")


if __name__ == "__main__":
    main()
