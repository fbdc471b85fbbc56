"""Evaluation at tiny scale: eval.npz has the RESULTS.md layout, round-trips exactly, and a bad file is refused."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pipeline import evaluate
from pipeline.config import DataConfig, RunConfig
from pipeline.data import Split, normalize_batch
from pipeline.evalfile import EVAL_LAYOUT, EvalFileError, load_eval, save_eval
from pipeline.evaluate import evaluate_run, evaluate_weights, predict_logits, shown_positions
from pipeline.gradcam import gradcam
from pipeline.model import build_model, to_device

CPU = torch.device("cpu")


def gradcam_maps(model, images_uint8: torch.Tensor, targets: torch.Tensor, device, batch_size: int = 8):
    """The reference the evaluation is held to: captum's LayerGradCam (pipeline.gradcam.gradcam), batch by batch."""
    batches = range(0, len(images_uint8), batch_size)
    return torch.cat(
        [
            gradcam(
                model,
                normalize_batch(images_uint8[s : s + batch_size].to(device)),
                targets[s : s + batch_size],
            )
            for s in batches
        ]
    )


def _splits(n_test: int = 12, n_val: int = 4, seed: int = 0) -> SimpleNamespace:
    """A stand-in for pipeline.data.Splits: random uint8 images, test IDs with gaps."""
    g = torch.Generator().manual_seed(seed)

    def split(n: int) -> SimpleNamespace:
        images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
        return SimpleNamespace(images=images, labels=torch.randint(0, 100, (n,), generator=g))

    return SimpleNamespace(
        test=split(n_test),
        val=split(n_val),
        test_ids=np.arange(0, 3 * n_test, 3, dtype=np.int64),
        test_coarse=np.arange(n_test, dtype=np.int64) % 20,
        class_names=[f"class{i}" for i in range(100)],
        coarse_names=[f"group{i}" for i in range(20)],
    )


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return to_device(build_model(), CPU).eval()


@pytest.fixture(scope="module")
def arrays(model: torch.nn.Module) -> dict[str, np.ndarray]:
    splits = _splits()
    return evaluate_run(
        model, splits, CPU, shown_case_ids=(3, 4, 9999), provenance={"seed": 42}, batch_size=8
    )


def test_predict_logits_batched_equals_one_plain_forward(model: torch.nn.Module) -> None:
    images = _splits().test.images[:5]
    ours = predict_logits(model, images, CPU, batch_size=2)
    with torch.no_grad():
        expected = model(normalize_batch(images))
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-5)


def test_evaluate_run_has_the_results_md_layout(arrays: dict[str, np.ndarray]) -> None:
    assert set(arrays) == set(EVAL_LAYOUT)
    for key, (kind, ndim) in EVAL_LAYOUT.items():
        assert arrays[key].dtype.kind == kind and arrays[key].ndim == ndim, key
    assert arrays["test_logits"].shape == (12, 100) and arrays["test_logits"].dtype == np.float32
    assert arrays["val_logits"].shape == (4, 100)
    assert arrays["cam_pred"].shape == arrays["cam_true"].shape == (12, 4, 4)
    assert (arrays["cam_pred"] >= 0).all() and arrays["test_ids"].dtype == np.int64
    assert json.loads(str(arrays["provenance"])) == {"seed": 42}


def test_cam_true_is_the_map_of_the_true_class(model: torch.nn.Module, arrays: dict) -> None:
    images, labels = _splits().test.images, _splits().test.labels
    expected = gradcam_maps(model, images, labels, CPU, batch_size=8).numpy()
    np.testing.assert_allclose(arrays["cam_true"], expected, rtol=1e-4, atol=1e-6)
    right = arrays["test_logits"].argmax(1) == arrays["test_labels"]
    np.testing.assert_array_equal(arrays["cam_true"][right], arrays["cam_pred"][right])


def test_shown_images_are_the_cases_in_the_subset_and_the_confidently_wrong(arrays: dict) -> None:
    splits = _splits()
    shown = arrays["shown_ids"]
    assert 3 in shown and 4 not in shown and 9999 not in shown  # 4 and 9999 are not evaluated
    assert np.all(np.diff(shown) > 0)
    pos = np.searchsorted(arrays["test_ids"], shown)
    expected = splits.test.images[pos].permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(arrays["shown_images"], expected)


def test_shown_positions_are_the_cases_and_the_confidently_wrong() -> None:
    logits = np.array([[5.0, 0, 0], [0, 9, 0], [0, 0, 1], [0, 7, 0], [3, 0, 0], [0, 9, 0]])
    labels = np.array([1, 1, 0, 0, 2, 1])  # images 1 and 5 are right
    ids = np.array([10, 11, 12, 13, 14, 15])
    np.testing.assert_array_equal(shown_positions(ids, logits, labels, [11, 99]), [0, 1, 2, 3, 4])


def test_save_and_load_round_trip_exactly(arrays: dict, tmp_path) -> None:
    path = save_eval(tmp_path / "run" / "eval.npz", arrays)
    loaded = load_eval(path)
    assert set(loaded) == set(arrays)
    for key in arrays:
        assert loaded[key].dtype == arrays[key].dtype, key
        np.testing.assert_array_equal(loaded[key], arrays[key])
    assert [p.name for p in path.parent.iterdir()] == ["eval.npz"]  # no temp file left behind


def test_truncated_file_is_refused_in_one_line(arrays: dict, tmp_path) -> None:
    path = save_eval(tmp_path / "eval.npz", arrays)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(EvalFileError) as err:
        load_eval(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message and "evaluate" in message


@pytest.mark.parametrize("content", [b"", b"not a zip file at all"])
def test_corrupt_file_is_refused(tmp_path, content: bytes) -> None:
    path = tmp_path / "eval.npz"
    path.write_bytes(content)
    with pytest.raises(EvalFileError, match="truncated or corrupt"):
        load_eval(path)


def test_incomplete_or_missing_file_is_refused(arrays: dict, tmp_path) -> None:
    partial = {k: v for k, v in arrays.items() if k != "cam_true"}
    path = save_eval(tmp_path / "eval.npz", partial)
    with pytest.raises(EvalFileError, match="missing cam_true"):
        load_eval(path)
    with pytest.raises(EvalFileError, match="no such file"):
        load_eval(tmp_path / "absent.npz")


def test_evaluate_weights_writes_eval_npz_and_a_history_for_outside_weights(
    tiny_cifar, tmp_path, monkeypatch
) -> None:
    """build.py's evaluate stage on the synthetic CIFAR stand-in, cut to 10 test images for speed."""
    real = evaluate.evaluate_run

    def first_ten(model, splits, *args, **kwargs):
        test = Split(splits.test.images[:10], splits.test.labels[:10])
        short = dataclasses.replace(
            splits, test=test, test_ids=splits.test_ids[:10], test_coarse=splits.test_coarse[:10]
        )
        return real(model, short, *args, **kwargs)

    monkeypatch.setattr(evaluate, "evaluate_run", first_ten)
    data = DataConfig(val_size=100, train_subset=10, val_subset=8, test_subset=100)
    cfg = RunConfig(profile="smoke", model="baseline", data=data)
    torch.manual_seed(0)
    weights = tmp_path / "weights.pt"
    torch.save(build_model().state_dict(), weights)  # a bare state_dict, as trained elsewhere
    evaluate_weights(cfg, weights, tiny_cifar, tmp_path / "run", device_name="cpu", batch_size=64)
    arrays = load_eval(tmp_path / "run" / "eval.npz")
    assert arrays["test_logits"].shape == (10, 100) and arrays["val_logits"].shape == (8, 100)
    assert np.all(np.diff(arrays["test_ids"]) > 0) and arrays["test_ids"].max() < 300
    prov = json.loads(str(arrays["provenance"]))
    assert prov["data_source"] == "synthetic" and prov["weights"] == str(weights)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["epochs"] == [] and history["provenance"]["data_source"] == "synthetic"
    assert prov["weights_given"] is True and len(prov["weights_sha256"]) == 64


def test_weights_with_nan_are_refused_before_anything_is_written(tiny_cifar, tmp_path):
    from pipeline.checkpoint import CheckpointError

    data = DataConfig(val_size=100, train_subset=10, val_subset=8, test_subset=100)
    cfg = RunConfig(profile="smoke", model="baseline", data=data)
    state = build_model().state_dict()
    state["fc.bias"][:] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="NaN or infinite logits"):
        evaluate_weights(
            cfg, tmp_path / "nan.pt", tiny_cifar, tmp_path / "run", device_name="cpu", batch_size=64
        )
    assert not (tmp_path / "run" / "eval.npz").exists()


def test_bf16_logits_are_fp32_and_their_maps_are_fp32_grad_cam_of_the_class_they_predict(model) -> None:
    """In bf16 the logits come from a bf16 pass (stored as fp32); the maps stay fp32 Grad-CAM, taken
    for the class those logits predict, so a stored prediction and its map always agree."""
    splits = _splits()
    bf16 = evaluate_run(model, splits, CPU, (3,), {"seed": 42}, batch_size=8, precision="bf16")
    assert bf16["test_logits"].dtype == bf16["val_logits"].dtype == np.float32
    predicted = torch.from_numpy(bf16["test_logits"].argmax(1))
    expected = gradcam_maps(model, splits.test.images, predicted, CPU, batch_size=8).numpy()
    np.testing.assert_allclose(bf16["cam_pred"], expected, rtol=0, atol=1e-5)
    fp32 = predict_logits(model, splits.test.images, CPU, batch_size=8)
    assert not np.array_equal(bf16["test_logits"], fp32.numpy())  # really another arithmetic
    np.testing.assert_allclose(bf16["test_logits"], fp32.numpy(), atol=0.1 * float(fp32.abs().max()))
