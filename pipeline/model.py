"""ResNet-18 with the CIFAR stem, and loading weights trained elsewhere.

The study (seed §2) swaps torchvision's 7×7 stride-2 stem for a 3×3 stride-1 conv and removes the
max-pool, "standard practice for 32×32 inputs": layer4 then works at 4×4 for a 32×32 image.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18

from pipeline.errors import StudyError

NUM_CLASSES = 100
PARAMETERS = 11_220_132  # of this architecture with 100 classes, counted (tests/test_model.py)


class WeightsError(StudyError, ValueError):
    """Weights that do not fit this architecture; the message names the keys."""


def build_model(num_classes: int = NUM_CLASSES) -> nn.Module:
    """torchvision resnet18 with the CIFAR stem: conv1 3×3/1 without bias, no max-pool."""
    model = resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# kuangliu/pytorch-cifar names the projection shortcut `shortcut` and the classifier `linear`;
# the rest (conv1, bn1, layerN.B.convK/bnK) matches torchvision's names.
def _kuangliu_key(key: str) -> str:
    key = key.replace(".shortcut.", ".downsample.")
    return "fc." + key[len("linear.") :] if key.startswith("linear.") else key


def _strip_prefix(state: dict, prefix: str) -> dict:
    """Keys saved from a DataParallel or torch.compile wrapper carry a prefix; drop it."""
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix) :]: v for k, v in state.items()}
    return state


def normalise_state_dict(state: dict) -> dict:
    """Map a plain or kuangliu-layout ResNet-18 state_dict onto this model's key names."""
    for prefix in ("module.", "_orig_mod."):
        state = _strip_prefix(state, prefix)
    if any(k.startswith("linear.") or ".shortcut." in k for k in state):
        state = {_kuangliu_key(k): v for k, v in state.items()}
    return state


def load_weights(model: nn.Module, state: dict) -> nn.Module:
    """Load a state_dict strictly, refusing with the missing and unexpected keys named."""
    state = normalise_state_dict(state)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise WeightsError(
            "weights do not fit ResNet-18 with the CIFAR stem: "
            f"missing keys {_few(missing)}; unexpected keys {_few(unexpected)}"
        )
    wrong = [k for k in expected if tuple(state[k].shape) != tuple(expected[k].shape)]
    if wrong:
        k = wrong[0]
        raise WeightsError(
            f"weights do not fit ResNet-18 with the CIFAR stem: {len(wrong)} tensors have other shapes, "
            f"e.g. {k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}"
        )
    model.load_state_dict(state)
    return model


def _few(keys: list[str], n: int = 5) -> str:
    if not keys:
        return "none"
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def to_device(model: nn.Module, device: torch.device) -> nn.Module:
    """channels_last is the layout the fastest convolutions of oneDNN (CPU) and cuDNN (tensor cores)
    take; benchmarks/eval_throughput.py times it against the default NCHW."""
    return model.to(device=device, memory_format=torch.channels_last)
