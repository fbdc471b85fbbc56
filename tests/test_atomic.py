"""A build killed at any rename leaves every published output (site, PDF, results, checks, figures)
complete, old or new, never absent; the next build removes what the killed one left; two builds of
one folder take turns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

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
    files.os.replace = hooked(os.replace)
    files.os.rename = hooked(os.rename)
    files.exchange = hooked(files.exchange)
    build.os.replace = files.os.replace
    build.CASES = Path(cases)
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
