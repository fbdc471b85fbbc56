"""CutMix (pipeline/augment.py): exact λ, pasted pixels, coin rate, the loss's closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.augment import (
    EpochCutMix,
    box_lam,
    cutmix_batch,
    mixed_correct,
    mixed_loss,
    paste_box,
    rand_bbox,
)


def _batch(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 32, 32, generator=g).contiguous(memory_format=torch.channels_last)
    return x, torch.arange(n, dtype=torch.int64)


def _always(x, y, seed=0, alpha=1.0):
    return cutmix_batch(x, y, prob=1.0, alpha=alpha, rng=np.random.default_rng(seed))


def test_rand_bbox_inside_image_and_lam_is_the_clipped_area():
    rng = np.random.default_rng(1)
    for lam in np.linspace(0.0, 1.0, 41):
        top, bottom, left, right = box = rand_bbox(32, 32, float(lam), rng)
        assert 0 <= top <= bottom <= 32 and 0 <= left <= right <= 32
        assert box_lam(box, 32, 32) == 1.0 - (bottom - top) * (right - left) / 1024


def test_lam_equals_one_minus_box_area_exactly():
    x, y = _batch()
    for seed in range(30):
        mixed, y_a, y_b, lam = _always(x, y, seed)
        partner = y_b  # labels are the indices, so y_b is the partner permutation
        changed = (mixed != x).any(dim=1)  # (B, H, W): pixels that now differ
        box_pixels = changed[partner != torch.arange(len(y))]
        if len(box_pixels):  # the box is the same for every image; measure it on one that moved
            area = int(box_pixels[0].sum())
            assert lam == 1.0 - area / 1024


def test_pasted_pixels_are_the_partners_and_the_rest_the_originals():
    x, y = _batch()
    mixed, y_a, y_b, lam = _always(x, y, seed=3)
    rng = np.random.default_rng(3)  # replay the draws in the official order: coin, λ, partner, box centre
    assert rng.random() < 1.0
    lam0 = float(rng.beta(1.0, 1.0))
    partner = torch.from_numpy(rng.permutation(len(y)))
    top, bottom, left, right = box = rand_bbox(32, 32, lam0, rng)
    assert 0.0 < lam < 1.0 and lam == box_lam(box, 32, 32)
    assert torch.equal(y_a, y) and torch.equal(y_b, y[partner])
    assert torch.equal(mixed[:, :, top:bottom, left:right], x[partner][:, :, top:bottom, left:right])
    outside = mixed.clone()
    outside[:, :, top:bottom, left:right] = x[:, :, top:bottom, left:right]
    assert torch.equal(outside, x)


def test_paste_box_by_hand():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    out = paste_box(x, torch.tensor([1, 0]), (1, 3, 0, 2))
    assert torch.equal(out[0, 0, 1:3, 0:2], x[1, 0, 1:3, 0:2])
    assert torch.equal(out[1, 0, 1:3, 0:2], x[0, 0, 1:3, 0:2])
    assert out[0, 0, 0, 0] == 0 and out[0, 0, 3, 3] == 15
    assert box_lam((1, 3, 0, 2), 4, 4) == 0.75


def test_empty_box_leaves_the_batch_unchanged():
    x, y = _batch()
    # λ = 1 gives a box of side 0: nothing is pasted, and λ recomputed from the area stays 1.
    box = rand_bbox(32, 32, 1.0, np.random.default_rng(0))
    assert box_lam(box, 32, 32) == 1.0
    assert torch.equal(paste_box(x, torch.randperm(8, generator=torch.Generator().manual_seed(0)), box), x)


def test_unmixed_batch_is_returned_as_is():
    x, y = _batch()
    out, y_a, y_b, lam = cutmix_batch(x, y, prob=0.0, alpha=1.0, rng=np.random.default_rng(0))
    assert out is x and lam == 1.0 and torch.equal(y_a, y) and torch.equal(y_b, y)


def test_inputs_are_not_mutated():
    x, y = _batch()
    x0, y0 = x.clone(), y.clone()
    for seed in range(5):
        _always(x, y, seed)
    assert torch.equal(x, x0) and torch.equal(y, y0)
    logits = torch.randn(8, 100)
    l0 = logits.clone()
    mixed_loss(logits, y, y.flip(0), 0.3, 0.1)
    mixed_correct(logits, y, y.flip(0), 0.3)
    assert torch.equal(logits, l0)


def test_about_half_of_many_batches_are_mixed():
    x, y = _batch(4)
    rng = np.random.default_rng(42)
    mixed = sum(cutmix_batch(x, y, 0.5, 1.0, rng)[3] < 1.0 for _ in range(1000))
    # Binomial(1000, 0.5), less the rare boxes that come out empty: 5 sigma is ±79.
    assert 421 < mixed < 579


def test_same_generator_state_same_result():
    x, y = _batch()
    a, b = _always(x, y, 7), _always(x, y, 7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2]) and a[3] == b[3]


def _ce(logits: torch.Tensor, target: int, eps: float) -> float:
    """Cross-entropy with label smoothing of one row, by the formula: (1−ε)·(−log p_t) + ε·mean(−log p)."""
    logp = logits - math.log(sum(math.exp(v) for v in logits.tolist()))
    return (1 - eps) * -float(logp[target]) + eps * -float(logp.mean())


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_mixed_loss_equals_the_closed_form(eps):
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]], dtype=torch.float64)
    y_a, y_b, lam = torch.tensor([0, 2]), torch.tensor([1, 1]), 0.75
    want = sum(
        lam * _ce(logits[i], int(y_a[i]), eps) + (1 - lam) * _ce(logits[i], int(y_b[i]), eps)
        for i in range(2)
    )
    got = mixed_loss(logits, y_a, y_b, lam, label_smoothing=eps)
    assert got.item() == pytest.approx(want / 2, rel=1e-12)


def test_unmixed_loss_is_plain_cross_entropy():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]], dtype=torch.float64)
    y = torch.tensor([0, 2])
    want = (_ce(logits[0], 0, 0.0) + _ce(logits[1], 2, 0.0)) / 2
    assert mixed_loss(logits, y, y, 1.0).item() == pytest.approx(want, rel=1e-12)


def test_mixed_correct_is_lambda_weighted():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])  # predictions 0, 1, 0
    y_a, y_b = torch.tensor([0, 0, 1]), torch.tensor([1, 1, 0])
    # agreement with y_a: 1 of 3; with y_b: 2 of 3
    assert mixed_correct(logits, y_a, y_b, 0.25).item() == pytest.approx(0.25 * 1 + 0.75 * 2)


def test_an_epochs_draws_made_up_front_are_those_of_batch_by_batch_cutmix():
    sizes = [8, 8, 8, 8, 8, 3]  # the last batch short, as in training
    x = torch.randn(sum(sizes), 3, 32, 32)
    y = torch.arange(sum(sizes))
    ahead, by_batch = np.random.default_rng(7), np.random.default_rng(7)
    epoch = EpochCutMix(sizes, (32, 32), 0.5, 1.0, ahead, torch.device("cpu"))
    mixed = 0
    for step, start in enumerate(np.cumsum([0, *sizes[:-1]])):
        xb, yb = x[start : start + sizes[step]], y[start : start + sizes[step]]
        want, got = cutmix_batch(xb, yb, 0.5, 1.0, by_batch), epoch(step, xb, yb)
        for a, b in zip(want, got, strict=True):
            assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b
        mixed += want[3] < 1.0
    assert 0 < mixed < len(sizes)  # both kinds of batch were compared
    assert ahead.bit_generator.state == by_batch.bit_generator.state  # the checkpoint saves the same state
