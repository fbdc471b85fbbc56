"""Grad-CAM at layer4 (its last block), at the layer's own resolution, unnormalised.

Grad-CAM (Selvaraju et al. 2017): the gradient of the target logit with respect to a layer's
activations, averaged over space per channel, weights a sum of the activations; a ReLU keeps the
evidence for the class. For a 32×32 input and the CIFAR stem, layer4 works at 4×4.

We use captum's `LayerGradCam`, which returns maps at the layer's resolution; libraries that
normalise each map to [0, 1] (pytorch-grad-cam) lose the magnitudes we compare across images and
models. `tests/test_gradcam.py` proves the result equal to a direct autograd computation.
"""

from __future__ import annotations

import torch
from captum.attr import LayerGradCam
from torch import nn


def uncompiled(model: nn.Module) -> nn.Module:
    """The module behind a `torch.compile` wrapper; hooks and gradients want the plain one."""
    return getattr(model, "_orig_mod", model)


def gradcam(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Grad-CAM maps of normalised images x (B, 3, H, W) for classes `target` (B,) -> float32 (B, h, w).

    Eval mode, fp32, outside autocast and inference mode: the maps need real gradients, and the
    batch norms must use their running statistics so that each image's map is its own.
    """
    model = uncompiled(model).eval()
    cam = LayerGradCam(model, model.layer4[-1])
    with torch.inference_mode(False), torch.enable_grad(), torch.autocast(x.device.type, enabled=False):
        maps = cam.attribute(x.float().clone(), target=target, relu_attributions=True)  # (B, 1, h, w)
    return maps.detach().squeeze(1).float()


def gradcam_predicted(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (B, C) and Grad-CAM maps (B, h, w) for each image's predicted class, in one pass.

    captum differentiates whatever function it is given: here the largest logit, whose gradient
    is the predicted class's. So the forward pass that finds the prediction also yields its map,
    and the logits are kept on the way: one forward instead of two for every test image.
    """
    model = uncompiled(model).eval()
    kept: list[torch.Tensor] = []

    def top_logit(inp: torch.Tensor) -> torch.Tensor:
        logits = model(inp)
        kept.append(logits.detach())
        return logits.max(dim=1, keepdim=True).values  # (B, 1): the predicted class's logit

    cam = LayerGradCam(top_logit, model.layer4[-1])
    with torch.inference_mode(False), torch.enable_grad(), torch.autocast(x.device.type, enabled=False):
        maps = cam.attribute(x.float().clone(), target=0, relu_attributions=True)  # (B, 1, h, w)
    return kept[-1].float(), maps.detach().squeeze(1).float()
