"""Grad-CAM at layer4 (its last block), at the layer's own resolution, unnormalised.

Grad-CAM (Selvaraju et al. 2017): the gradient of the target logit with respect to a layer's
activations, averaged over space per channel, weights a sum of the activations; a ReLU keeps the
evidence for the class. For a 32×32 input and the CIFAR stem, layer4 works at 4×4.

The evaluation takes Grad-CAM in its closed form for this architecture (analytic_gradcam, below:
every class's map from one forward pass, no backward). captum's `LayerGradCam` (gradcam, below),
which returns maps at the layer's resolution, is the reference it is held to within 1e-5 in fp32
(tests/test_gradcam.py; benchmarks/gradcam_closed_form.py on trained weights); libraries that
normalise each map to [0, 1] (pytorch-grad-cam) lose the magnitudes we compare across images and
models.
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


# ----------------------------------------------------------------------------- every class from one forward pass


def analytic_head(model: nn.Module) -> nn.Linear:
    """The linear layer after the global average pool, where Grad-CAM at layer4 has a closed form.

    With logit y_c = Σ_k w_ck · mean_ij A_k,ij + b_c, the gradient ∂y_c/∂A_k,ij is w_ck / (h·w) at
    every position, so Grad-CAM's channel weight (its spatial mean) is w_ck / (h·w) and the map is
    ReLU(Σ_k w_ck A_k) / (h·w): every class's map from the activations of one forward pass, no
    backward. Holds for torchvision's ResNet (layer4, avgpool to 1×1, flatten, fc); anything else
    is refused rather than mapped wrongly.
    """
    model = uncompiled(model)
    pool, head = getattr(model, "avgpool", None), getattr(model, "fc", None)
    if not (
        isinstance(pool, nn.AdaptiveAvgPool2d)
        and pool.output_size in ((1, 1), 1)
        and isinstance(head, nn.Linear)
    ):
        raise ValueError("the closed-form Grad-CAM needs layer4 -> global average pool -> one linear layer")
    return head


def features_and_logits(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """layer4's activations (B, K, h, w) and the logits (B, C) of images x, both fp32, one forward pass."""
    model = uncompiled(model).eval()
    kept: list[torch.Tensor] = []
    handle = model.layer4.register_forward_hook(lambda module, inputs, output: kept.append(output))
    try:
        with torch.inference_mode(), torch.autocast(x.device.type, enabled=False):
            logits = model(x.float())
    finally:
        handle.remove()
    return kept[-1].float(), logits.float()


def analytic_gradcam(features: torch.Tensor, head: nn.Linear, target: torch.Tensor) -> torch.Tensor:
    """Grad-CAM maps (B, h, w) for classes `target` (B,) from layer4's activations (B, K, h, w)."""
    weights = head.weight.detach().float()[target]  # (B, K): each image's target class row
    h, w = features.shape[2:]
    return torch.relu(torch.einsum("bkhw,bk->bhw", features, weights)) / (h * w)
