"""Signals during a build: the figure workers die with their parent however it dies (kill -9
included), and SIGTERM behaves like Ctrl-C: one line, exit 143, earlier outputs intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_build(out: Path) -> subprocess.Popen:
    """A smoke build from the committed frozen results into `out`, as a user runs it."""
    return subprocess.Popen(
        [sys.executable, "build.py", "--profile", "smoke", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_workers(proc: subprocess.Popen, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        kids = children(proc.pid)
        if len(kids) >= 2:
            return kids
        time.sleep(0.02)
    pytest.fail("the build never forked its figure workers")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_with_their_parent(tmp_path, sig):
    proc = start_build(tmp_path / "out")
    workers = wait_for_workers(proc)
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(w) for w in workers):
        time.sleep(0.05)
    assert not any(alive(w) for w in workers), "orphaned figure workers"


def test_sigterm_is_one_line_exit_143_and_leaves_earlier_outputs_whole(tmp_path):
    out = tmp_path / "out"
    first = start_build(out)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    before = {
        p: p.read_bytes() for p in (out / "results.json", out / "report.pdf", out / "site" / "index.html")
    }
    (out / ".keys" / "figures.json").unlink()  # the next build draws the figures again
    proc = start_build(out)
    wait_for_workers(proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert err.strip() == "build.py: terminated (SIGTERM); earlier outputs are intact"
    for path, data in before.items():
        assert path.read_bytes() == data, path
