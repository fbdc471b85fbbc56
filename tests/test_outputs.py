"""The output folder: the build writes only into a folder it made (or a new or empty one), never
replacing a user's files; a folder of another profile is refused too."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import build
from commands import workspace
from pipeline.errors import StudyError
from pipeline.files import MARKER


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    monkeypatch.setattr(
        workspace, "RUNS", tmp_path / "runs"
    )  # the committed frozen smoke results, nothing else


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
    monkeypatch.setattr(workspace, "FROZEN", tmp_path / "frozen")
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
    monkeypatch.setattr(workspace, "FROZEN", tmp_path / "frozen")
    results = json.loads((out / "results.json").read_text())
    for files in ({"baseline": "x", "cutmix": "y"}, {"baseline": {}, "cutmix": {}}):
        (out / "results.json").write_text(json.dumps({**results, "files": files}))
        capsys.readouterr()
        assert build.main(["freeze", "--profile", "smoke", "--out", str(out)]) == 2
        assert "does not say which files it used" in _error(capsys)
    assert not (tmp_path / "frozen").exists()


# ----------------------------------------------------------------------------- leftovers


def test_a_builds_clean_up_removes_its_own_leftovers_but_not_the_users_dot_files(isolated, tmp_path):
    from pipeline.leftovers import temp_dir, temp_file

    out = tmp_path / "out"
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    (out / ".site.my-backup").mkdir()
    (out / ".site.my-backup" / "index.html").write_text("mine")
    (out / ".report.pdf.v1").write_text("mine")
    (out / ".site.old-notes").write_text("mine")
    mine = sorted(p.name for p in out.iterdir())
    fd, killed_write = temp_file(out, "results.json")  # as a killed build leaves them
    os.close(fd)
    killed_swap = temp_dir(out, "site")
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    assert not Path(killed_write).exists() and not killed_swap.exists()
    assert sorted(p.name for p in out.iterdir()) == mine
    assert (out / ".site.my-backup" / "index.html").read_text() == "mine"


KILLED_FREEZE = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import build
    from pipeline import files
    build.workspace.RUNS, build.workspace.FROZEN = Path(sys.argv[1]), Path(sys.argv[2])
    files._swap_in = lambda tmp, path: os._exit(137)  # killed (kill -9) as the new folder is complete
    sys.exit(build.main(["freeze", "--profile", "smoke", "--out", sys.argv[3]]))
    """
)


def test_a_killed_freeze_leaves_a_folder_the_next_freeze_removes(isolated, tmp_path, monkeypatch):
    out, frozen = tmp_path / "out", tmp_path / "frozen"
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    env = {**os.environ, "PYTHONPATH": str(workspace.ROOT)}
    args = [str(tmp_path / "runs"), str(frozen), str(out)]
    done = subprocess.run(
        [sys.executable, "-c", KILLED_FREEZE, *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 137, done.stderr
    left = [p for p in frozen.iterdir() if p.name.startswith(".smoke.")]
    assert len(left) == 1 and (left[0] / "results.json").is_file() and not (frozen / "smoke").exists()
    (frozen / ".smoke.backup").mkdir()
    monkeypatch.setattr(workspace, "FROZEN", frozen)
    assert build.main(["freeze", "--profile", "smoke", "--out", str(out)]) == 0
    assert sorted(p.name for p in frozen.iterdir() if p.name != ".lock") == [".smoke.backup", "smoke"]
    assert (frozen / "smoke" / "results.json").is_file()


def test_a_freeze_waits_for_a_running_one_and_leaves_its_temporary_folder_alone(
    isolated, tmp_path, monkeypatch, capsys
):
    from pipeline.files import folder_lock
    from pipeline.leftovers import temp_dir

    out, frozen = tmp_path / "out", tmp_path / "frozen"
    assert build.main(["--profile", "smoke", "--out", str(out), "--no-pdf"]) == 0
    monkeypatch.setattr(workspace, "FROZEN", frozen)
    frozen.mkdir()
    holding, release, survived = threading.Event(), threading.Event(), []

    def running_freeze():
        with folder_lock(frozen, print):
            live = temp_dir(frozen, "smoke")
            holding.set()
            release.wait(10)
            survived.append(live.exists())

    thread = threading.Thread(target=running_freeze)
    thread.start()
    holding.wait(10)
    threading.Timer(0.5, release.set).start()
    capsys.readouterr()
    assert build.main(["freeze", "--profile", "smoke", "--out", str(out)]) == 0
    thread.join(10)
    assert survived == [True] and f"waiting for another build of {frozen}" in capsys.readouterr().out


# ----------------------------------------------------------------------------- files named by an option


def test_an_output_file_replaces_a_regular_file_and_writes_through_a_link(tmp_path):
    from pipeline.outputfile import write_output_file

    (tmp_path / "junit.xml").write_text("old")
    write_output_file(tmp_path / "junit.xml", "<new/>", "--junit")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "summary.md").write_text("old")
    (tmp_path / "summary.md").symlink_to(tmp_path / "reports" / "summary.md")
    write_output_file(tmp_path / "summary.md", "# new", "--markdown")
    assert (tmp_path / "junit.xml").read_text() == "<new/>"
    assert (tmp_path / "summary.md").is_symlink()
    assert (tmp_path / "reports" / "summary.md").read_text() == "# new"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["junit.xml", "reports", "summary.md", "summary.md"]


def test_an_output_file_is_written_into_dev_null_which_stays_a_device(tmp_path):
    from pipeline.outputfile import write_output_file

    write_output_file(Path("/dev/null"), "<testsuites/>", "--junit")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_an_output_file_is_written_into_a_fifo_read_meanwhile_and_the_fifo_stays(tmp_path):
    from pipeline.outputfile import write_output_file

    fifo, link = tmp_path / "junit.fifo", tmp_path / "junit.xml"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    text = "<testcase/>\n" * 20_000  # more than a pipe holds (64 KiB): written while it is read
    for target in (fifo, link):
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there before the write opens
        keep = os.open(fifo, os.O_WRONLY)  # and sees end-of-file only once the write is done
        os.set_blocking(reader, True)
        got: list[bytes] = []
        thread = threading.Thread(target=lambda r=reader, into=got: into.append(_read_all(r)))
        thread.start()
        write_output_file(target, text, "--junit")
        os.close(keep)
        thread.join(10)
        assert got == [text.encode()]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()


def _read_all(fd: int) -> bytes:
    with open(fd, "rb") as f:
        return f.read()


def test_a_fifo_nobody_reads_is_one_line_not_a_wait(tmp_path):
    from pipeline.outputfile import write_output_file

    fifo = tmp_path / "junit.fifo"
    os.mkfifo(fifo)
    failed: list[BaseException] = []

    def write():
        try:
            write_output_file(fifo, "<testsuites/>", "--junit")
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # it waits for a reader: give it one, so that the test ends
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    assert not thread.is_alive() and len(failed) == 1 and isinstance(failed[0], StudyError), failed
    assert str(failed[0]) == (
        f"--junit {fifo}: nobody reads it (a FIFO or socket): start its reader first, or give a file"
    )
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_folder_or_a_link_to_nothing_named_as_an_output_file_is_one_line(tmp_path):
    from pipeline.outputfile import write_output_file

    (tmp_path / "missing.xml").symlink_to(tmp_path / "nowhere" / "junit.xml")
    with pytest.raises(StudyError, match=f"^--junit {tmp_path} is a folder: give a file name"):
        write_output_file(tmp_path, "<testsuites/>", "--junit")
    with pytest.raises(StudyError, match="which does not exist: give the file itself, or a new file name$"):
        write_output_file(tmp_path / "missing.xml", "<testsuites/>", "--junit")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["missing.xml"]
    assert (tmp_path / "missing.xml").is_symlink()


STDOUT_TO_A_FILE = textwrap.dedent(
    """
    from pathlib import Path
    from pipeline.outputfile import write_output_file
    print("the table")
    write_output_file(Path("/dev/stdout"), "<testsuites/>\\n", "--junit")
    print("after")
    """
)


def test_dev_stdout_redirected_to_a_file_gets_the_output_after_what_was_printed(tmp_path):
    log = tmp_path / "log.txt"
    env = {**os.environ, "PYTHONPATH": str(workspace.ROOT)}
    with open(log, "w") as stdout:
        done = subprocess.run(
            [sys.executable, "-c", STDOUT_TO_A_FILE], env=env, stdout=stdout, stderr=subprocess.PIPE
        )
    assert done.returncode == 0, done.stderr
    assert log.read_text() == "the table\n<testsuites/>\nafter\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.txt"]
