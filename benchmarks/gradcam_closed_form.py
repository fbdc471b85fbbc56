"""Grad-CAM in closed form against captum's LayerGradCam, on trained weights: equal, and how much faster.

For this architecture (layer4, global average pool, one linear layer) the map of class c is
ReLU(Σ_k w_ck A_k) / (h·w) (pipeline/gradcam.py). This script takes a checkpoint trained here and
real test images, computes the predicted- and true-class maps both ways in fp32, and prints the
largest absolute difference (the target: at most 1e-5) and the ratio of the two times, measured in
one run on the same cores. Without a checkpoint it uses random weights, which says nothing about
trained ones: give --checkpoint.

    .venv/bin/python benchmarks/gradcam_closed_form.py --checkpoint runs/cpu-study/baseline-seed43/checkpoint.pt \
        --seed 43 [--images 1000] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from pipeline.checkpoint import load_weights_file  # noqa: E402
from pipeline.data import load_splits, normalize_batch, resolve_data_dir  # noqa: E402
from pipeline.gradcam import analytic_gradcam, analytic_head, features_and_logits, gradcam  # noqa: E402
from pipeline.grid import Cell, cell_config  # noqa: E402
from pipeline.model import build_model, to_device  # noqa: E402

TARGET = 1e-5  # the largest absolute difference from captum allowed, in fp32


def captum_maps(model, images, targets: list, batch_size: int) -> tuple[list[torch.Tensor], float]:
    """captum's maps for each list of targets: a forward and a backward pass per list."""
    start, out = time.perf_counter(), []
    for target in targets:
        maps = [
            gradcam(model, normalize_batch(images[s : s + batch_size]), target[s : s + batch_size])
            for s in range(0, len(images), batch_size)
        ]
        out.append(torch.cat(maps))
    return out, time.perf_counter() - start


def closed_form_maps(model, images, targets: list, batch_size: int) -> tuple[list[torch.Tensor], float]:
    """The closed form's maps for every list of targets from one forward pass, as the evaluation takes them."""
    start, head, out = time.perf_counter(), analytic_head(model), [[] for _ in targets]
    for s in range(0, len(images), batch_size):
        features, _ = features_and_logits(model, normalize_batch(images[s : s + batch_size]))
        for maps, target in zip(out, targets, strict=True):
            maps.append(analytic_gradcam(features, head, target[s : s + batch_size]))
    return [torch.cat(m) for m in out], time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", help="weights trained here (a checkpoint.pt); default: random weights"
    )
    parser.add_argument("--profile", default="cpu-study", help="whose config the checkpoint has")
    parser.add_argument("--model", default="baseline")
    parser.add_argument("--seed", type=int, default=42, help="the checkpoint's seed (a run of the grid)")
    parser.add_argument("--data-dir", help="folder holding cifar-100-python (default as build.py)")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    cfg = cell_config(args.profile, Cell(args.model, args.seed))
    model = build_model()
    if args.checkpoint:
        model = load_weights_file(Path(args.checkpoint), model, expect=cfg)
    model = to_device(model, torch.device("cpu")).eval()
    test = load_splits(cfg.data, resolve_data_dir(args.data_dir)).test
    images, labels = test.images[: args.images], test.labels[: args.images]
    predicted = (
        features_and_logits(model, normalize_batch(images))[1].argmax(1).clone()
    )  # a plain tensor for captum
    targets = {"predicted": predicted, "true": labels}
    reference, captum_s = captum_maps(model, images, list(targets.values()), args.batch_size)
    ours, ours_s = closed_form_maps(model, images, list(targets.values()), args.batch_size)
    worst = 0.0
    for name, expected, got in zip(targets, reference, ours, strict=True):
        diff = float((got - expected).abs().max())
        worst = max(worst, diff)
        print(
            f"{name}-class maps: largest difference {diff:.2e} (largest map value {float(expected.max()):.3g})"
        )
    print(
        f"both maps of {len(images)} images: captum {captum_s:.1f} s, closed form {ours_s:.1f} s: "
        f"{captum_s / ours_s:.1f}x"
    )
    print(f"{'within' if worst <= TARGET else 'OVER'} the target of {TARGET:g}")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
