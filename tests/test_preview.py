"""`build.py serve` on a copy of the project: it builds and serves the site, a template edit
rebuilds it and tells open pages to reload (server-sent events), a broken template shows its error
in the page without stopping the server, and Ctrl-C (130) and SIGTERM (143) stop it cleanly; a port
taken or out of range is one line before any build, and a malformed request path gets 400 or 404."""

from __future__ import annotations

import http.client
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("watchfiles")
preview = pytest.importorskip("report.preview")


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


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """One copy of the project for the module's servers: the second one's build is already cached."""
    project = tmp_path_factory.mktemp("serve") / "project"
    ignore = shutil.ignore_patterns(
        ".venv", "runs", "out", ".git", "__pycache__", "*_cache", "*.egg-info", "cpu-study", "node_modules"
    )
    shutil.copytree(ROOT, project, ignore=ignore)
    return project


@pytest.fixture
def served(project):
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
    assert _stopped_by(proc, signal.SIGINT, out) == 130
    _wait_for(out, r"build\.py: interrupted", timeout=10)


def _stopped_by(proc: subprocess.Popen, sig: signal.Signals, out) -> int:
    """Send `sig` to serve and return its exit status; a serve that does not stop fails the test
    with where it hangs and what it printed."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        state = _where(proc.pid)
        proc.kill()
        pytest.fail(f"serve did not stop on {sig.name}; {state}; it printed:\n" + "".join(list(out.queue)))


def test_sigterm_stops_serve_with_its_own_line_and_exit_143(served):
    project, url, proc, out = served
    assert _stopped_by(proc, signal.SIGTERM, out) == 128 + signal.SIGTERM
    _wait_for(out, r"build\.py: terminated \(SIGTERM\)", timeout=10)


def _serve_on(port: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "build.py", "serve", "--profile", "smoke", "--port", port, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_serve_on_a_taken_port_says_so_in_one_line_before_building(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve_on(str(port), tmp_path / "out")
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"build.py: error: --port {port} is in use (Address already in use): "
        "choose another with --port, or --port 0 for any free one\n"
    )
    assert not (tmp_path / "out").exists()  # no build ran first


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_serve_on_a_number_that_is_no_port_says_so_in_one_line(tmp_path, port):
    done = _serve_on(port, tmp_path / "out")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"build.py: error: --port {port} is not a port (0 to 65535): ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


class _Stopped(BaseException):
    """What a SIGTERM handler raises (as build.py's does), so that it ends the program where it is."""


def _stop(signum, frame):
    raise _Stopped()


def test_a_signal_while_watching_reaches_the_caller_and_closes_the_server_and_open_streams(tmp_path):
    site, watched = tmp_path / "site", tmp_path / "templates"
    site.mkdir()
    watched.mkdir()
    (site / "index.html").write_text("<body></body>", encoding="utf-8")
    live = preview.Preview(site, lambda: None, 0)
    streams = []

    def serving(line: str) -> None:  # an open page, then SIGTERM once the watcher waits
        streams.append(urllib.request.urlopen(live.url + "__events", timeout=10))
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        with pytest.raises(BaseException) as stopped:
            live.run([watched], serving)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert stopped.type is _Stopped  # not turned into KeyboardInterrupt on the way
    assert streams[0].read() == b""  # the page's event stream ended rather than waiting on
    assert live.server.socket.fileno() == -1
    assert not [t.name for t in threading.enumerate() if t.name.startswith("preview")]


@pytest.fixture
def site_port(tmp_path):
    """A Preview's server on a tiny site with a folder of its own (no index.html there)."""
    site = tmp_path / "site"
    (site / "figures").mkdir(parents=True)
    (site / "index.html").write_text("<body></body>", encoding="utf-8")
    (site / "figures" / "a.svg").write_text("<svg/>", encoding="utf-8")
    live = preview.Preview(site, lambda: None, 0)
    threading.Thread(target=live.server.serve_forever, daemon=True).start()
    yield live.server.server_address[1]
    live.server.shutdown()
    live.server.server_close()


def _status(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path, status",
    [
        ("/%00", 400),
        ("/index.html%00.svg", 400),
        ("/%ed%a0%80", 400),  # a lone surrogate: no file name can hold it
        ("/figures/%ed%a0%80/../", 400),  # the same, in a folder listed for want of an index.html
        ("/figures/%ff", 404),  # not UTF-8: decoded with a replacement character
        ("/%zz", 404),
        ("/" + "a" * 5000, 404),
        ("/figures/a.svg", 200),
    ],
)
def test_a_malformed_path_is_answered_400_or_404_without_a_traceback(site_port, capfd, path, status):
    assert _status(site_port, path) == status
    assert "Traceback" not in capfd.readouterr().err
