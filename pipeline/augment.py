"""CutMix: paste a box of a partner image into each image and mix the labels by area.

Yun et al. 2019, "CutMix: Regularization Strategy to Train Strong Classifiers with Localizable
Features" (arXiv:1905.04899), as in the official code (clovaai/CutMix-PyTorch, train.py): per batch
a coin flip with probability p; λ ~ Beta(α, α); the partner of each image by one random
permutation of the batch; a box of side √(1−λ)·size around a uniform centre, clipped to the image;
λ recomputed from the clipped area; loss λ·CE(out, y_a) + (1−λ)·CE(out, y_b). Small helpers
composed bottom-up as in timm's data/mixup.py (`rand_bbox` -> `cutmix_batch`).

Randomness comes only from an explicit `numpy.random.Generator` (torch has no Beta sampler that
takes a generator); the caller stores its state in the checkpoint. The images are the normalised
float batch on the training device; inputs are never modified.

Training draws a whole epoch's CutMix up front (EpochCutMix): the same draws, in the same order, as
cutmix_batch batch by batch, so the numbers and the generator's state at the epoch's end are the
same; but the partner permutations reach the device in one copy per epoch instead of one blocking
copy per mixed batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

Box = tuple[int, int, int, int]  # (top, bottom, left, right): rows top:bottom, columns left:right


def rand_bbox(height: int, width: int, lam: float, rng: np.random.Generator) -> Box:
    """A box of about (1−λ) of the image around a uniform centre, clipped to the image.

    As the official rand_bbox: half-sides cut // 2 on each side of the centre, so the clipped box
    can be smaller than (1−λ)·H·W; `box_lam` gives the λ that matches the pixels really pasted.
    (The official code names the axes W = size[2], H = size[3]; for square images it is the same.)
    """
    cut_rat = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * cut_rat), int(width * cut_rat)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))  # uniform centre
    top, bottom = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
    left, right = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
    return int(top), int(bottom), int(left), int(right)


def box_lam(box: Box, height: int, width: int) -> float:
    """λ = 1 − box area / image area: the share of the image that stays the original's."""
    top, bottom, left, right = box
    return 1.0 - (bottom - top) * (right - left) / (height * width)


def paste_box(x: torch.Tensor, partner: torch.Tensor, box: Box) -> torch.Tensor:
    """x (B, C, H, W) with the box of each image replaced by that of image partner[i]; a new tensor."""
    top, bottom, left, right = box
    out = x.clone()  # keeps x's memory format (channels_last stays channels_last)
    out[:, :, top:bottom, left:right] = x[partner, :, top:bottom, left:right]
    return out


@dataclass(frozen=True)
class Draw:
    """One mixed batch's draws: the box, the λ of its clipped area, and each image's partner."""

    box: Box
    lam: float
    partner: np.ndarray  # (B,) int64: a permutation of the batch


def draw_cutmix(
    batch: int, height: int, width: int, prob: float, alpha: float, rng: np.random.Generator
) -> Draw | None:
    """One batch's draws in the official order (coin, λ, permutation, box centre); None: not mixed."""
    if alpha <= 0 or rng.random() >= prob:  # official: `if args.beta > 0 and r < args.cutmix_prob`
        return None
    lam = float(rng.beta(alpha, alpha))
    partner = rng.permutation(batch)
    box = rand_bbox(height, width, lam, rng)
    return Draw(box, box_lam(box, height, width), partner)


def mix(
    x: torch.Tensor, y: torch.Tensor, box: Box, lam: float, partner: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """(images with the partners' box pasted, y_a, y_b, λ); `partner` on x's device."""
    return paste_box(x, partner, box), y, y[partner], lam


def cutmix_batch(
    x: torch.Tensor, y: torch.Tensor, prob: float, alpha: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """CutMix one batch with probability `prob`: (images, y_a, y_b, λ); unmixed: (x, y, y, 1.0)."""
    drawn = draw_cutmix(x.shape[0], *x.shape[-2:], prob, alpha, rng)
    if drawn is None:
        return x, y, y, 1.0
    return mix(x, y, drawn.box, drawn.lam, torch.from_numpy(drawn.partner).to(x.device))


class EpochCutMix:
    """An epoch's CutMix, drawn before its first batch: batch i's draws are those cutmix_batch would
    make for it, and all partner permutations go to the device as one tensor."""

    def __init__(
        self,
        batches: list[int],
        image_size: tuple[int, int],
        prob: float,
        alpha: float,
        rng: np.random.Generator,
        device: torch.device,
    ):
        draws = [draw_cutmix(b, *image_size, prob, alpha, rng) if prob > 0 else None for b in batches]
        mixed = [d.partner for d in draws if d is not None]
        partners = torch.from_numpy(np.concatenate(mixed)).to(device) if mixed else None
        self.batches: list[tuple[Box, float, torch.Tensor] | None] = []
        start = 0
        for d in draws:
            if d is None:
                self.batches.append(None)
                continue
            self.batches.append((d.box, d.lam, partners[start : start + len(d.partner)]))  # a view
            start += len(d.partner)

    def __call__(
        self, step: int, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
        """Batch `step` (0-based) mixed as drawn: (images, y_a, y_b, λ)."""
        drawn = self.batches[step]
        return (x, y, y, 1.0) if drawn is None else mix(x, y, *drawn)


def mixed_loss(
    logits: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor, lam: float, label_smoothing: float = 0.0
) -> torch.Tensor:
    """λ·CE(logits, y_a) + (1−λ)·CE(logits, y_b), each CE a batch mean with the given label smoothing."""
    loss_a = F.cross_entropy(logits, y_a, label_smoothing=label_smoothing)
    if lam == 1.0:  # an unmixed batch: one cross-entropy, the same value as the formula
        return loss_a
    return lam * loss_a + (1.0 - lam) * F.cross_entropy(logits, y_b, label_smoothing=label_smoothing)


def mixed_correct(logits: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor, lam: float) -> torch.Tensor:
    """λ-weighted count of top-1 agreement with y_a and y_b (the usual CutMix train accuracy); a 0-d tensor."""
    pred = logits.argmax(dim=1)  # (B,)
    return lam * (pred == y_a).sum() + (1.0 - lam) * (pred == y_b).sum()
