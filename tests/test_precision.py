"""--precision: what auto means on each device, the autocast it gives, and bf16 runs end to end."""

from __future__ import annotations

import pytest
import torch

from pipeline import precision as prec
from pipeline.config import ConfigError
from pipeline.model import build_model, to_device


@pytest.mark.parametrize(
    ("amx", "avx512_bf16", "auto"), [(False, False, "fp32"), (True, False, "bf16"), (False, True, "bf16")]
)
def test_auto_is_bf16_on_cuda_and_on_cpus_with_native_bf16_only(monkeypatch, amx, avx512_bf16, auto):
    monkeypatch.setattr(prec, "cpu_has_amx", lambda: amx)
    monkeypatch.setattr(prec, "cpu_has_avx512_bf16", lambda: avx512_bf16)
    assert prec.resolve_precision("auto", "cpu") == auto
    assert prec.resolve_precision(None, torch.device("cpu")) == auto
    assert prec.resolve_precision("auto", "cuda") == "bf16"
    assert prec.resolve_precision("fp32", "cpu") == "fp32"  # asked for: as asked
    assert prec.resolve_precision("bf16", "cpu") == "bf16"


def test_unknown_precision_is_one_line():
    with pytest.raises(ConfigError, match=r"--precision 'fp16': use one of auto, fp32, bf16"):
        prec.resolve_precision("fp16", "cpu")


def test_amx_probe_answers_on_this_torch():
    """The call exists in this torch (2.14) as in 2.11, and answers a bool."""
    assert hasattr(torch.cpu, "_is_amx_tile_supported")
    assert isinstance(prec.cpu_has_amx(), bool)
    assert isinstance(prec.cpu_has_avx512_bf16(), bool)


def test_bf16_autocast_runs_the_convolutions_in_bf16_and_fp32_does_not():
    model = to_device(build_model(), torch.device("cpu")).eval()
    x = torch.randn(2, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        with prec.autocast(torch.device("cpu"), "bf16"):
            assert model(x).dtype == torch.bfloat16
        with prec.autocast(torch.device("cpu"), "fp32"):
            assert model(x).dtype == torch.float32
