"""ResNet-18 with the CIFAR stem and loading weights trained elsewhere."""

from __future__ import annotations

import pytest
import torch

from pipeline.model import PARAMETERS, WeightsError, build_model, count_parameters, load_weights


def test_parameter_count_and_output_shape():
    model = build_model().eval()
    assert count_parameters(model) == PARAMETERS == 11_220_132
    with torch.inference_mode():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 100)


def _kuangliu_layout(state: dict) -> dict:
    """Rename our keys the way kuangliu/pytorch-cifar's ResNet18 names them."""
    out = {}
    for key, value in state.items():
        key = key.replace(".downsample.", ".shortcut.")
        out["linear." + key[3:] if key.startswith("fc.") else key] = value
    return out


@pytest.mark.parametrize("layout", ["plain", "kuangliu", "dataparallel"])
def test_loads_plain_kuangliu_and_wrapped_state_dicts(layout):
    torch.manual_seed(0)
    source = build_model()
    state = source.state_dict()
    state = {
        "plain": state,
        "kuangliu": _kuangliu_layout(state),
        "dataparallel": {"module." + k: v for k, v in state.items()},
    }[layout]
    target = load_weights(build_model(), state)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_refuses_other_architectures_naming_the_keys():
    state = build_model().state_dict()
    state.pop("fc.bias")
    state["classifier.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError, match=r"missing keys fc\.bias.*unexpected keys classifier\.weight"):
        load_weights(build_model(), state)
    wrong = build_model(num_classes=10).state_dict()
    with pytest.raises(WeightsError, match="other shapes"):
        load_weights(build_model(), wrong)
