"""The output folder: the build writes only into a folder it made (or a new or empty one), never
replacing a user's files; a folder of another profile is refused too."""

from __future__ import annotations

import pytest

import build
from pipeline.files import MARKER


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    monkeypatch.setattr(build, "RUNS", tmp_path / "runs")  # the committed frozen smoke results, nothing else


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("build.py: error:") and "\n" not in err, err
    return err


def test_a_users_folder_is_refused_and_left_as_it_was(isolated, tmp_path, capsys):
    out = tmp_path / "mine"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "my-plot.svg").write_text("mine")
    (out / "results.json").write_text("my results")
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 2
    assert "not empty" in _error(capsys)
    assert (out / "figures" / "my-plot.svg").read_text() == "mine"
    assert (out / "results.json").read_text() == "my results"
    assert sorted(p.name for p in out.iterdir()) == ["figures", "results.json"]


def test_a_new_folder_is_marked_and_used_again_but_not_by_another_profile(isolated, tmp_path, capsys):
    out = tmp_path / "new"
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    assert (out / MARKER).is_file() and (out / "site" / "index.html").is_file()
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    capsys.readouterr()
    assert build.main(["--profile", "cpu-study", "--out", str(out), "--no-pdf"]) == 2
    assert "profile 'smoke'" in _error(capsys)


def test_a_hand_edited_output_is_written_anew_not_fed_onward(isolated, tmp_path, capsys):
    out = tmp_path / "out"
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    results = (out / "results.json").read_bytes()
    figure = out / "figures" / "gallery.svg"
    drawn = figure.read_bytes()
    (out / "results.json").write_text('{"claims": {"baseline.test_accuracy": {"value": [1, 2]}}}')
    figure.write_text("<svg/>")
    capsys.readouterr()
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    log = capsys.readouterr().out
    assert "analyse                ran: outputs missing or changed since" in log
    assert (out / "results.json").read_bytes() == results and figure.read_bytes() == drawn


def test_check_and_freeze_refuse_another_profiles_results(isolated, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    monkeypatch.setattr(build, "FROZEN", tmp_path / "frozen")
    capsys.readouterr()
    assert build.main(["check", "--profile", "cpu-study", "--out", str(out), "--against", "frozen"]) == 2
    assert "holds the results of profile 'smoke'" in _error(capsys)
    assert build.main(["freeze", "--profile", "cpu-study", "--out", str(out)]) == 2
    assert "holds the results of profile 'smoke'" in _error(capsys)
    assert not (tmp_path / "frozen").exists()


def test_freeze_refuses_a_results_json_that_does_not_name_its_files(isolated, tmp_path, capsys, monkeypatch):
    import json

    out = tmp_path / "out"
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    monkeypatch.setattr(build, "FROZEN", tmp_path / "frozen")
    results = json.loads((out / "results.json").read_text())
    for files in ({"baseline": "x", "cutmix": "y"}, {"baseline": {}, "cutmix": {}}):
        (out / "results.json").write_text(json.dumps({**results, "files": files}))
        capsys.readouterr()
        assert build.main(["freeze", "--profile", "smoke", "--out", str(out)]) == 2
        assert "does not say which files it used" in _error(capsys)
    assert not (tmp_path / "frozen").exists()
