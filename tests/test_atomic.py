"""A build killed at any rename leaves every published output (site, PDF, results, checks, figures)
complete, old or new, never absent; the next build removes what the killed one left; two builds of
one folder take turns."""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from pipeline.files import atomic_dir, folder_lock

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ("results.json", "checks.json", "report.pdf", "site/index.html")

# Runs build.main in a fresh interpreter; with KILL_AT=N it dies (os._exit, like kill -9: no cleanup)
# just before the N-th rename onto a published path of the output folder.
DRIVER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import build
    from pipeline import files
    out, cases, kill_at = Path(sys.argv[1]), sys.argv[2], int(os.environ.get("KILL_AT", "0"))
    published = {out / n for n in ("results.json", "checks.json", "report.pdf", "site", "figures")}
    count = [0]
    def hooked(real):
        def rename(a, b, *rest):
            if Path(b) in published or Path(a) in published:
                count[0] += 1
                if count[0] == kill_at:
                    os._exit(137)
            return real(a, b, *rest)
        return rename
    # files.os is the os module itself: every module's os.replace and os.rename are hooked
    files.os.replace = hooked(os.replace)
    files.os.rename = hooked(os.rename)
    files.exchange = hooked(files.exchange)
    build.workspace.CASES = Path(cases)
    sys.exit(build.main(["--profile", "smoke", "--out", str(out)]))
    """
)


def _build(tmp_path: Path, out: Path, cases: Path, kill_at: int = 0) -> int:
    """One build of `out`; every stage runs (the keys are dropped), from `cases`, killed at rename `kill_at`."""
    shutil.rmtree(out / ".keys", ignore_errors=True)
    env = {**os.environ, "KILL_AT": str(kill_at), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(out), str(cases)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, 137):
        pytest.fail(f"the build exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.returncode


def _snapshot(out: Path) -> dict[str, bytes]:
    """The published outputs; the PDF only as "complete" (WeasyPrint stamps it with the time)."""
    snap = {name: (out / name).read_bytes() for name in PUBLISHED}
    pdf = snap.pop("report.pdf")
    snap["report.pdf complete"] = pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    return snap


def _cases(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"cases-{abs(hash(text))}.yaml"
    original = (ROOT / "assets" / "cases.yaml").read_text(encoding="utf-8")
    path.write_text(original.replace("The gravel path", text, 1), encoding="utf-8")
    return path


def test_a_kill_at_any_rename_leaves_old_or_new_outputs_whole(tmp_path):
    out = tmp_path / "out"
    old_cases, new_cases = _cases(tmp_path, "The gravel path"), _cases(tmp_path, "The grey gravel path")
    assert _build(tmp_path, out, old_cases) == 0
    old = _snapshot(out)
    kill_at = 1
    while _build(tmp_path, out, new_cases, kill_at) == 137:
        for name in PUBLISHED:
            assert (out / name).exists(), f"{name} is missing after a kill at rename {kill_at}"
        assert _snapshot(out)["report.pdf complete"], f"a torn PDF after a kill at rename {kill_at}"
        json.loads((out / "results.json").read_bytes())
        kill_at += 1
        assert _build(tmp_path, out, old_cases) == 0  # back to the old state for the next kill
        assert _snapshot(out) == old
    assert kill_at > 4, "fewer renames than published outputs: the hook saw nothing"
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".") and p.name not in (".keys", ".lock")]
    assert leftovers == [p for p in leftovers if p == ".made-by-build.py"], leftovers
    new = _snapshot(out)
    assert new["site/index.html"] != old["site/index.html"] and json.loads(new["results.json"])


def test_atomic_dir_swaps_in_one_step(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("old")
    with atomic_dir(site) as tmp:
        (tmp / "index.html").write_text("new")
        assert (site / "index.html").read_text() == "old"
    assert (site / "index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_second_build_of_one_folder_waits_and_says_so(tmp_path):
    said: list[str] = []
    entered = threading.Event()
    release = threading.Event()

    def first():
        with folder_lock(tmp_path, said.append):
            entered.set()
            release.wait(10)

    t = threading.Thread(target=first)
    t.start()
    entered.wait(10)
    timer = threading.Timer(0.3, release.set)
    timer.start()
    with folder_lock(tmp_path, said.append):
        assert release.is_set(), "the second holder did not wait"
    t.join()
    assert len(said) == 1 and said[0].startswith(f"waiting for another build of {tmp_path}")


def test_outputs_get_the_usual_mode(tmp_path):
    """Not mkstemp's 0600: a published PDF or results.json must be readable by others (umask 022: 0644)."""
    from pipeline.files import write_text

    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


# ----------------------------------------------------------------------------- leftovers


KILLED_WRITE = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from pipeline.files import atomic_dir, atomic_path
    out = Path(sys.argv[1])
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text("half")
        with atomic_dir(out / "site") as folder:
            (folder / "index.html").write_text("half")
            os._exit(137)  # like kill -9: no clean-up runs
    """
)


def test_what_a_killed_write_left_is_removed_by_the_next_clean_up(tmp_path):
    import build
    from pipeline.leftovers import clean_leftovers

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(tmp_path)], env=env, capture_output=True)
    assert done.returncode == 137, done.stderr
    left = sorted(tmp_path.iterdir())
    assert [p.name.split(".")[1] for p in left] == ["results", "site"], left
    assert clean_leftovers(tmp_path, build.OUTPUT_NAMES) == left
    assert list(tmp_path.iterdir()) == []


def test_users_dot_files_beside_the_outputs_survive_the_clean_up(tmp_path):
    from pipeline.leftovers import clean_leftovers, temp_dir, temp_file

    (tmp_path / ".site.my-backup").mkdir()
    (tmp_path / ".site.my-backup" / "index.html").write_text("mine")
    (tmp_path / ".site.old").mkdir()
    (tmp_path / ".site.abcdefgh").mkdir()  # tempfile's random form, without the build's suffix
    for name in (".report.pdf.v1", ".site.old-notes", ".results.json.tmp", ".site.abcdefgh.build-tmp.bak"):
        (tmp_path / name).write_text("mine")
    mine = sorted(p.name for p in tmp_path.iterdir())
    fd, made = temp_file(tmp_path, "report.pdf")
    os.close(fd)
    leftovers = sorted([Path(made), temp_dir(tmp_path, "site")])
    assert clean_leftovers(tmp_path, ["site", "report.pdf", "results.json"]) == leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == mine
    assert (tmp_path / ".site.my-backup" / "index.html").read_text() == "mine"


def test_the_two_rename_swap_keeps_the_old_folder_aside_under_a_temporary_name(tmp_path, monkeypatch):
    """Where the system cannot swap in one step; a user's .site.old beside it is not the build's."""
    from pipeline import files

    monkeypatch.setattr(files, "exchange", lambda a, b: False)
    (tmp_path / ".site.old").mkdir()
    (tmp_path / ".site.old" / "notes.txt").write_text("mine")
    with atomic_dir(tmp_path / "site") as tmp:
        (tmp / "index.html").write_text("old")
    with atomic_dir(tmp_path / "site") as tmp:
        (tmp / "index.html").write_text("new")
    assert (tmp_path / "site" / "index.html").read_text() == "new"
    assert (tmp_path / ".site.old" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.old", "site"]


# ----------------------------------------------------------------------------- failed writes


def test_a_full_disk_names_the_output_and_the_fix_and_keeps_the_old_file(tmp_path):
    from pipeline.files import OutputError, atomic_path

    target = tmp_path / "report.pdf"
    target.write_bytes(b"old")
    with pytest.raises(OutputError) as caught, atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert (
        str(caught.value) == f"no space left on device writing {target}: free space or choose another --out"
    )
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]


def test_a_failed_write_inside_a_folder_names_the_output_not_the_temporary(tmp_path, monkeypatch):
    from pipeline.files import OutputError, write_json

    def full(self, data):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OutputError, match="^disk quota exceeded writing (.*)$") as caught:
        with atomic_dir(tmp_path / "site") as tmp:
            write_json(tmp / "data" / "results.json", {})
    assert str(tmp_path / "site" / "data" / "results.json") in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_an_error_that_is_not_a_failed_write_passes_unchanged(tmp_path):
    unreadable = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "input.npz"))
    for error in (unreadable, FileNotFoundError(errno.ENOENT, "no such file", "x"), ValueError("a bug")):
        with pytest.raises(type(error)) as caught, atomic_dir(tmp_path / "site"):
            raise error
        assert caught.value is error
    assert list(tmp_path.iterdir()) == []


def _file_size_limit(limit: int):
    """For preexec_fn: `ulimit -f`; Python ignores SIGXFSZ, so a longer write fails with EFBIG."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


LIMIT = 64 * 1024
LIMITED_WRITE = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from pipeline.errors import StudyError
    out, big = Path(sys.argv[1]), os.urandom(4 * 64 * 1024)  # incompressible: eval.npz stays big
    try:
        exec(sys.argv[2])
    except StudyError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        sys.exit(2)
    """
)
WRITERS = {  # the file each writes, the path its error names (a folder's: the system does not say which file)
    "write_bytes": (
        "report.pdf",
        "report.pdf",
        "from pipeline.files import write_bytes; write_bytes(out / 'report.pdf', big)",
    ),
    "write_json": (
        "history.json",
        "history.json",
        "from pipeline.files import write_json; write_json(out / 'history.json', [big.hex()])",
    ),
    "save_eval": (
        "eval.npz",
        "eval.npz",
        "import numpy as np; from pipeline.evalfile import save_eval; "
        "save_eval(out / 'eval.npz', {'logits': np.frombuffer(big, np.uint8)})",
    ),
    "atomic_dir": (
        "site/index.html",
        "site",
        "from pipeline.files import atomic_dir\n"
        "with atomic_dir(out / 'site') as tmp:\n    (tmp / 'index.html').write_bytes(big)",
    ),
    "write_synthetic": (
        "cifar-100-python/train",
        "cifar-100-python/train",
        "from pipeline.synthetic import write_synthetic; write_synthetic(out, n_train=100, n_test=100)",
    ),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_write_over_the_file_size_limit_is_one_line_and_keeps_the_old_output(tmp_path, writer):
    output, named, code = WRITERS[writer]
    (tmp_path / output).parent.mkdir(exist_ok=True)
    (tmp_path / output).write_bytes(b"old")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", LIMITED_WRITE, str(tmp_path), code],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=_file_size_limit(LIMIT),
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == (
        f"build.py: error: file size limit exceeded writing {tmp_path / named}: "
        "raise the limit (ulimit -f) or choose another --out"
    )
    assert (tmp_path / output).read_bytes() == b"old"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # no temporary left


def test_a_build_over_the_file_size_limit_is_one_line_and_leaves_the_outputs_whole(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "build.py", "--profile", "smoke", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.parts[-1] != ".lock"}
    before = {p: data for p, data in before.items() if ".keys" not in p.parts}  # dropped below
    pdf = len(before[out / "report.pdf"])
    limit = 1 + max(len(data) for p, data in before.items() if p.name != "report.pdf")
    assert pdf > limit, "the PDF is no longer the largest output: give this test another way to fail"
    shutil.rmtree(out / ".keys")  # every stage runs, and the PDF's write fails
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, preexec_fn=_file_size_limit(limit)
    )
    error = done.stderr.strip()
    assert done.returncode != 0 and "Traceback" not in error and "\n" not in error, error
    assert error.startswith("build.py: error: file size limit exceeded writing ") and "report.pdf" in error
    assert {p: p.read_bytes() for p in before} == before
    assert [p for p in out.rglob("*") if p.name.endswith(".build-tmp")] == []
