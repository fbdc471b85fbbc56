"""`build.py serve` on a copy of the project: it builds and serves the site, a template edit
rebuilds it and tells open pages to reload (server-sent events), a broken template shows its error
in the page without stopping the server, and Ctrl-C stops it cleanly."""

from __future__ import annotations

import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("watchfiles")


def _lines(stream, into: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)


def _wait_for(into: queue.Queue, pattern: str, timeout: float = 120) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            match = re.search(pattern, into.get(timeout=0.5))
        except queue.Empty:
            continue
        if match:
            return match
    pytest.fail(f"nothing matched {pattern!r} in time")


def _where(pid: int) -> str:
    """What a process that ignores a signal is doing: its signal masks, and py-spy's dump if there is one."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        status = ""
    masks = " ".join(line for line in status.splitlines() if line.startswith(("SigBlk", "SigIgn", "SigCgt")))
    spy = shutil.which("py-spy")
    dump = (
        subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True).stdout if spy else ""
    )
    return f"{masks}\n{dump}"


def _page(url: str) -> str:
    with urllib.request.urlopen(url + "index.html", timeout=30) as r:
        return r.read().decode("utf-8")


@pytest.fixture
def served(tmp_path):
    project = tmp_path / "project"
    ignore = shutil.ignore_patterns(
        ".venv", "runs", "out", ".git", "__pycache__", "*_cache", "*.egg-info", "cpu-study", "node_modules"
    )
    shutil.copytree(ROOT, project, ignore=ignore)
    proc = subprocess.Popen(
        [sys.executable, "build.py", "serve", "--profile", "smoke", "--port", "0"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    out: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, out), daemon=True).start()
    url = _wait_for(out, r"serving (http://127\.0\.0\.1:\d+/)").group(1)
    yield project, url, proc, out
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _reloads(url: str) -> queue.Queue:
    """The events an open page receives."""
    events: queue.Queue = queue.Queue()

    def listen():
        with urllib.request.urlopen(url + "__events", timeout=120) as r:
            for line in r:
                if line.startswith(b"data:"):
                    events.put(line.decode().strip())

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(0.5)
    return events


def test_an_edit_rebuilds_and_reloads_an_error_shows_in_the_page_and_ctrl_c_stops(served):
    project, url, proc, out = served
    page = _page(url)
    assert "EventSource" in page and "Why CIFAR-100" in page
    events = _reloads(url)
    why = project / "templates" / "_sections" / "_why.html"
    original = why.read_text(encoding="utf-8")
    why.write_text(original.replace("that's absurdly small", "that's tiny"), encoding="utf-8")
    assert events.get(timeout=120) == "data: reload"
    assert "that's tiny" in _page(url)
    why.write_text(original + "{{ no_such_name }}\n", encoding="utf-8")
    assert events.get(timeout=120) == "data: reload"
    assert "The build failed" in _page(url) and proc.poll() is None
    why.write_text(original, encoding="utf-8")
    assert events.get(timeout=120) == "data: reload"
    assert "absurdly small" in _page(url)
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        state = _where(proc.pid)
        proc.kill()
        pytest.fail(f"serve did not stop on Ctrl-C; {state}; it printed:\n" + "".join(list(out.queue)))
    assert code == 130
    _wait_for(out, r"build\.py: interrupted", timeout=10)
