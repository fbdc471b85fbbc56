"""Grad-CAM via captum equals the textbook computation (Selvaraju et al. 2017) done by hand."""

from __future__ import annotations

import torch

from pipeline.gradcam import gradcam
from pipeline.model import build_model


def _direct_gradcam(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gradient of the target logit w.r.t. layer4's output, spatial mean per channel, weighted sum, ReLU."""
    store = {}
    handle = model.layer4[-1].register_forward_hook(lambda m, i, o: store.update(act=o))
    try:
        logits = model(x)
    finally:
        handle.remove()
    act = store["act"]  # (B, 512, 4, 4)
    picked = logits.gather(1, target[:, None]).sum()  # images are independent in eval mode
    (grad,) = torch.autograd.grad(picked, act)
    weights = grad.mean(dim=(2, 3), keepdim=True)  # (B, 512, 1, 1)
    return torch.relu((weights * act).sum(dim=1)).detach()  # (B, 4, 4)


def _model_and_images(seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    model = build_model().eval()
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(seed + 1))
    return model, x


def test_gradcam_equals_direct_autograd() -> None:
    model, x = _model_and_images()
    target = torch.tensor([3, 17, 99])
    ours = gradcam(model, x, target)
    expected = _direct_gradcam(model, x, target)
    assert ours.shape == (3, 4, 4) and ours.dtype == torch.float32
    assert expected.abs().sum() > 0  # the comparison is not between two zero maps
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-7)


def test_gradcam_works_inside_inference_mode_and_channels_last() -> None:
    model, x = _model_and_images(seed=2)
    target = model(x).argmax(1)
    expected = _direct_gradcam(model, x, target)
    model = model.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        ours = gradcam(model, x.contiguous(memory_format=torch.channels_last), target)
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-6)
    assert (ours >= 0).all()


def test_gradcam_leaves_no_parameter_gradients() -> None:
    model, x = _model_and_images(seed=4)
    gradcam(model, x, torch.tensor([0, 1, 2]))
    assert all(p.grad is None for p in model.parameters())


def test_the_closed_form_equals_captum_for_any_target() -> None:
    from pipeline.gradcam import analytic_gradcam, analytic_head, features_and_logits

    model, x = _model_and_images(seed=6)
    features, logits = features_and_logits(model, x)
    torch.testing.assert_close(logits, model(x).detach(), rtol=1e-5, atol=1e-6)
    for target in (logits.argmax(1), torch.tensor([0, 50, 99])):
        expected = gradcam(model, x, target)
        assert expected.abs().sum() > 0
        torch.testing.assert_close(
            analytic_gradcam(features, analytic_head(model), target), expected, rtol=0, atol=1e-5
        )


def test_the_closed_form_refuses_a_head_it_does_not_hold_for() -> None:
    import pytest

    from pipeline.gradcam import analytic_head

    model, _ = _model_and_images()
    model.fc = torch.nn.Sequential(torch.nn.Linear(512, 100), torch.nn.ReLU(), torch.nn.Linear(100, 100))
    with pytest.raises(ValueError, match="one linear layer"):
        analytic_head(model)
