"""build.py end to end at tiny scale: train, evaluate, analyse, check, figures, render; caching,
freeze, the regression check, and one clear line for each kind of bad input."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import isolate_build

import build
from commands import workspace as places
from pipeline import config
from report.outline import FIGURE_NAMES

TINY_SMOKE = {
    "data": {"val_size": 100, "train_subset": 128, "val_subset": 64, "test_subset": 200},
    "train": {"epochs": 1, "batch_size": 64, "milestones": (1,)},
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_cifar):
    """One tiny smoke build (both models trained on CPU), shared by the tests of this module."""
    root = tmp_path_factory.mktemp("build")
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, root)
        code = build.main(
            ["--profile", "smoke", "--retrain", "--data-dir", str(tiny_cifar), "--out", str(root / "out")]
        )
        assert code == 0
    return root


def _isolate(mp: pytest.MonkeyPatch, root) -> None:
    isolate_build(mp, root, TINY_SMOKE)


@pytest.fixture
def ws(workspace, monkeypatch):
    _isolate(monkeypatch, workspace)
    return workspace


def _build(ws, *extra) -> int:
    return build.main(["--profile", "smoke", "--out", str(ws / "out"), *extra])


def _ran(out: str) -> list[str]:
    return [line.split(" ran:")[0].strip() for line in out.splitlines() if " ran:" in line]


def test_the_first_build_writes_every_output(ws):
    out = ws / "out"
    for path in ("results.json", "checks.json", "site/index.html", "site/report.css", "report.pdf"):
        assert (out / path).exists(), path
    assert len(list((out / "site" / "figures").glob("*.svg"))) >= 8
    for model in config.MODELS:
        assert {"checkpoint.pt", "history.json", "eval.npz"} <= {
            p.name for p in (ws / "runs" / "smoke" / model).iterdir()
        }
    results = json.loads((out / "results.json").read_text())
    assert results["data_source"] == "synthetic" and results["sources"] == {
        "baseline": "trained",
        "cutmix": "trained",
    }
    html = (out / "site" / "index.html").read_text()
    assert "synthetic" in html.lower() and 'src="figures/' in html


def test_a_second_build_does_no_work(ws, capsys, tiny_cifar):
    assert _build(ws, "--data-dir", str(tiny_cifar)) == 0
    out = capsys.readouterr().out
    assert _ran(out) == [] and out.count("skipped") >= 6


def test_changing_the_cases_reanalyses_without_reevaluating(ws, capsys, tiny_cifar, tmp_path, monkeypatch):
    cases = tmp_path / "cases.yaml"
    cases.write_text("0: first test image\n5: sixth\n")
    monkeypatch.setattr(places, "CASES", cases)
    assert _build(ws, "--data-dir", str(tiny_cifar), "--no-pdf") == 0
    assert _ran(capsys.readouterr().out) == ["analyse", "check", "figures", "render"]


def test_freeze_then_check_against_frozen_passes(ws, capsys, tiny_cifar):
    assert _build(ws, "--data-dir", str(tiny_cifar)) == 0
    assert build.main(["freeze", "--profile", "smoke", "--out", str(ws / "out")]) == 0
    assert {p.name for p in (ws / "frozen" / "smoke").iterdir()} == {"baseline", "cutmix", "results.json"}
    assert {p.name for p in (ws / "frozen" / "smoke" / "baseline").iterdir()} == {
        "eval.npz",
        "history.json",
        "provenance.json",
    }
    capsys.readouterr()
    assert (
        build.main(["check", "--profile", "smoke", "--out", str(ws / "out"), "--against", "frozen", "--json"])
        == 0
    )
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows and all(r["verdict"] == "pass" and r["mode"] == "exact" for r in rows)


def test_check_against_published_fails_on_smoke_numbers(ws, capsys):
    assert build.main(["check", "--profile", "smoke", "--out", str(ws / "out")]) == 1
    assert "fail" in capsys.readouterr().out


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("build.py: error:") and "\n" not in err, err
    return err


def test_a_truncated_eval_file_is_one_clear_line(ws, capsys, tiny_cifar, tmp_path, monkeypatch):
    frozen = tmp_path / "frozen"
    (frozen / "smoke").mkdir(parents=True)
    for model in config.MODELS:
        src = ws / "runs" / "smoke" / model
        (frozen / "smoke" / model).mkdir()
        (frozen / "smoke" / model / "history.json").write_text((src / "history.json").read_text())
        (frozen / "smoke" / model / "eval.npz").write_bytes((src / "eval.npz").read_bytes()[:5000])
    monkeypatch.setattr(places, "FROZEN", frozen)
    monkeypatch.setattr(places, "RUNS", tmp_path / "no-runs")
    before = (ws / "out" / "results.json").read_bytes()
    assert _build(ws) == 2
    assert "eval.npz" in _one_error_line(capsys)
    assert (ws / "out" / "results.json").read_bytes() == before


def test_bad_inputs_are_one_clear_line(ws, capsys, tiny_cifar, tmp_path, monkeypatch):
    with pytest.raises(SystemExit) as exit_:
        build.main(["--profile", "nonsense"])
    assert exit_.value.code == 2 and "unknown profile" in _one_error_line(capsys)

    bad = tmp_path / "cases.yaml"
    bad.write_text("12345: out of range\n")
    monkeypatch.setattr(places, "CASES", bad)
    assert _build(ws, "--data-dir", str(tiny_cifar)) == 2
    assert "12345" in _one_error_line(capsys)
    monkeypatch.undo()
    _isolate(monkeypatch, ws)

    claims = tmp_path / "claims.yaml"
    claims.write_text("claims: [{claim: x}]\n")
    monkeypatch.setattr(places, "CLAIMS", claims)
    assert build.main(["check", "--profile", "smoke", "--out", str(ws / "out")]) == 2  # a setup error
    assert "claims.yaml" in _one_error_line(capsys)

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert build.main(["--profile", "smoke", "--out", str(blocker / "out")]) == 2
    assert "--out" in _one_error_line(capsys)


def test_paper_training_without_cuda_refuses(ws, capsys, tiny_cifar, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert (
        build.main(
            ["--profile", "paper", "--retrain", "--data-dir", str(tiny_cifar), "--out", str(ws / "paper")]
        )
        == 2
    )
    assert "CUDA" in _one_error_line(capsys)


def test_missing_dataset_offline_and_wrong_weights(ws, capsys, tmp_path, monkeypatch, tiny_cifar):
    import torchvision.datasets.utils as tv_utils

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", offline)
    checkpoint = ws / "runs" / "smoke" / "baseline" / "checkpoint.pt"
    before = checkpoint.read_bytes()
    assert _build(ws, "--retrain", "--data-dir", str(tmp_path / "nothing"), "--no-pdf") == 2
    assert "cifar-100-python" in _one_error_line(capsys)
    assert checkpoint.read_bytes() == before  # a failed retrain leaves the finished run whole

    wrong = tmp_path / "wrong.pt"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    args = [
        "--checkpoint-baseline",
        str(wrong),
        "--checkpoint-cutmix",
        str(wrong),
        "--data-dir",
        str(tiny_cifar),
    ]
    assert _build(ws, *args, "--no-pdf") == 2
    assert "wrong.pt" in _one_error_line(capsys)


def test_an_interrupted_build_leaves_the_previous_outputs_whole(
    ws, capsys, tiny_cifar, tmp_path, monkeypatch
):
    """Ctrl-C while the PDF is laid out and the figures are still being drawn."""
    import report.figures.drawing

    site = (ws / "out" / "site" / "index.html").read_bytes()
    pdf = (ws / "out" / "report.pdf").read_bytes()
    figures = {p.name: p.read_bytes() for p in (ws / "out" / "figures").glob("*.svg")}
    cases = tmp_path / "cases.yaml"
    cases.write_text("1: changed, so that analysis and figures run\n")
    monkeypatch.setattr(places, "CASES", cases)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report.figures.drawing.Drawing, "svg", interrupt)
    assert _build(ws, "--data-dir", str(tiny_cifar)) == 130
    assert (ws / "out" / "site" / "index.html").read_bytes() == site
    assert (ws / "out" / "report.pdf").read_bytes() == pdf
    assert {p.name: p.read_bytes() for p in (ws / "out" / "figures").glob("*.svg")} == figures
    assert len(figures) == len(FIGURE_NAMES)


def test_rendering_from_the_committed_frozen_results_never_imports_torch(tmp_path):
    """The embedded default: no GPU, no dataset, no checkpoints, and no torch import."""
    import subprocess
    import sys

    code = (
        "import sys, pathlib, build\nfrom commands import workspace\n"
        f"workspace.RUNS = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        f"code = build.main(['--profile', 'smoke', '--out', {str(tmp_path / 'out')!r}])\n"
        "assert code == 0, code\n"
        "assert 'torch' not in sys.modules, 'rendering imported torch'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=places.ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "frozen results: report/frozen/smoke/baseline" in done.stdout
    assert (tmp_path / "out" / "report.pdf").stat().st_size > 10_000


def test_a_device_that_is_not_here_is_one_clear_line(ws, capsys, tiny_cifar, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device, words in (("cuda", "no such CUDA device"), ("tpu:7", "not a device")):
        assert _build(ws, "--retrain", "--device", device, "--data-dir", str(tiny_cifar), "--no-pdf") == 2
        assert words in _one_error_line(capsys)


def test_precision_is_in_the_train_and_evaluate_keys(ws, capsys, tiny_cifar):
    """Asking for bf16 retrains and re-evaluates (another arithmetic, other numbers); the provenance says so."""
    assert _build(ws, "--data-dir", str(tiny_cifar), "--precision", "fp32") == 0
    capsys.readouterr()
    assert _build(ws, "--data-dir", str(tiny_cifar), "--precision", "bf16", "--no-pdf") == 0
    ran = _ran(capsys.readouterr().out)
    assert {"train baseline", "evaluate baseline", "train cutmix", "evaluate cutmix"} <= set(ran)
    results = json.loads((ws / "out" / "results.json").read_text())
    assert {results["provenance"][m]["precision"] for m in config.MODELS} == {"bf16"}
    assert _build(ws, "--data-dir", str(tiny_cifar), "--precision", "fp32") == 0  # back, for the other tests


def test_the_paper_refusal_estimates_hours_for_the_precision(ws, capsys, tiny_cifar, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = ["--profile", "paper", "--retrain", "--data-dir", str(tiny_cifar), "--out", str(ws / "paper")]
    assert build.main([*args, "--precision", "fp32"]) == 2
    fp32 = _one_error_line(capsys)
    assert build.main([*args, "--precision", "bf16"]) == 2
    bf16 = _one_error_line(capsys)
    assert "in fp32" in fp32 and "in bf16" in bf16 and fp32 != bf16


# ----------------------------------------------------------------------------- freeze and small ones


def test_freeze_takes_what_the_last_build_used_and_refuses_a_change_of_kind(ws, capsys, tiny_cifar, tmp_path):
    import shutil

    runs = ws / "runs" / "smoke"
    ext = []
    for model in ("baseline", "cutmix"):  # weights from elsewhere: copies outside the run folders
        shutil.copy(runs / model / "checkpoint.pt", tmp_path / f"{model}.pt")
        ext += [f"--checkpoint-{model}", str(tmp_path / f"{model}.pt")]
    assert _build(ws, "--data-dir", str(tiny_cifar), "--no-pdf") == 0
    assert build.main(["freeze", "--profile", "smoke", "--out", str(ws / "out")]) == 0
    assert "from " + "runs" in capsys.readouterr().out.replace(str(ws) + "/", "")
    given = ws / "given"
    assert (
        build.main(
            ["--profile", "smoke", "--out", str(given), "--data-dir", str(tiny_cifar), "--no-pdf", *ext]
        )
        == 0
    )
    capsys.readouterr()
    assert build.main(["freeze", "--profile", "smoke", "--out", str(given)]) == 2
    assert "--replace" in _one_error_line(capsys)
    frozen_history = json.loads((ws / "frozen" / "smoke" / "baseline" / "history.json").read_text())
    assert frozen_history["epochs"], "trained results were replaced by the given weights' empty history"
    assert build.main(["freeze", "--profile", "smoke", "--out", str(given), "--dry-run"]) == 2


def test_freeze_refuses_files_that_changed_since_the_build(ws, capsys, tiny_cifar):
    assert _build(ws, "--data-dir", str(tiny_cifar), "--no-pdf") == 0
    history = ws / "runs" / "smoke" / "baseline" / "history.json"
    kept = history.read_bytes()
    history.write_bytes(kept + b" ")
    try:
        capsys.readouterr()
        assert build.main(["freeze", "--profile", "smoke", "--out", str(ws / "out")]) == 2
        assert "changed or vanished since the last build" in _one_error_line(capsys)
    finally:
        history.write_bytes(kept)


def test_a_deleted_frozen_history_is_refused_not_retrained(tmp_path, capsys, monkeypatch):
    import shutil

    frozen = tmp_path / "frozen"
    shutil.copytree(places.ROOT / "report" / "frozen" / "smoke", frozen / "smoke")
    (frozen / "smoke" / "baseline" / "history.json").unlink()
    monkeypatch.setattr(places, "FROZEN", frozen)
    monkeypatch.setattr(places, "RUNS", tmp_path / "runs")
    assert build.main(["--profile", "smoke", "--out", str(tmp_path / "out"), "--no-pdf"]) == 2
    assert "incomplete" in (err := _one_error_line(capsys)) and "git checkout" in err
    assert not (tmp_path / "runs").exists()


def test_an_interrupted_training_is_resumed_even_with_frozen_results(tmp_path, monkeypatch):
    monkeypatch.setattr(places, "RUNS", tmp_path / "runs")
    paths = build.Paths("smoke", tmp_path / "out")
    args = build.parse_args(["--profile", "smoke"])
    assert build.uses_frozen("baseline", args, paths)  # the committed smoke results
    staging = tmp_path / "runs" / "smoke" / "baseline" / ".training"
    staging.mkdir(parents=True)
    (staging / "key.json").write_text("{}")
    assert not build.uses_frozen("baseline", args, paths)


def test_weights_are_checked_for_both_models_before_any_work(ws, capsys, tiny_cifar, tmp_path):
    good = ws / "runs" / "smoke" / "baseline" / "checkpoint.pt"
    args = ["--data-dir", str(tiny_cifar), "--no-pdf", "--checkpoint-baseline", str(good)]
    assert _build(ws, *args, "--checkpoint-cutmix", str(tmp_path)) == 2
    captured = capsys.readouterr()
    assert "is a folder" in captured.err and "evaluate baseline" not in captured.out
    assert _build(ws, *args, "--checkpoint-cutmix", str(tmp_path / "missing.pt")) == 2
    assert "no such file" in _one_error_line(capsys)


def test_options_that_frozen_results_ignore_are_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(places, "RUNS", tmp_path / "runs")
    assert (
        build.main(["--profile", "smoke", "--out", str(tmp_path / "o"), "--no-pdf", "--device", "cpu"]) == 0
    )
    assert "(--device not used for a frozen run)" in capsys.readouterr().out


def test_the_default_data_folder_is_the_projects(tmp_path, monkeypatch):
    from pipeline.data import resolve_data_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CIFAR100_DIR", raising=False)
    assert resolve_data_dir(None) == places.ROOT / "data" / "cifar-100-python"


def test_a_keys_folder_that_cannot_be_written_fails_before_any_output_changes(
    ws, capsys, tmp_path, monkeypatch
):
    monkeypatch.setattr(places, "RUNS", tmp_path / "runs")
    out = tmp_path / "o"
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    before = (out / "results.json").read_bytes()
    import shutil

    shutil.rmtree(out / ".keys")
    (out / ".keys").write_text("a file where the build keeps its keys")
    capsys.readouterr()
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 2
    assert ".keys" in _one_error_line(capsys)
    assert (out / "results.json").read_bytes() == before
