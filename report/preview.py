"""Live preview: the built site served on 127.0.0.1, rebuilt when its sources change, and every open
page reloaded by itself (as Quarto's `preview` does).

    Preview(site_dir, rebuild).run(watched_paths)     # until Ctrl-C

`rebuild()` runs the build and returns None, or the error text to show; the build itself re-runs
only the stages whose keys changed. Files are served from the site folder; the HTML pages get one
line of script that listens to server-sent events on /__events and reloads when told to (no
framework). A failed build does not stop the server: the page shows the error instead, and the
next good build replaces it. The folder is watched with watchfiles (a well-kept, Rust-backed
watcher that batches a burst of saves into one change) rather than by polling here.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import html
import http.server
import os
import queue
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from pathlib import Path

import watchfiles

from pipeline.errors import StudyError

EVENTS = "/__events"
RELOADER = f'<script>new EventSource("{EVENTS}").onmessage = () => location.reload();</script>'
PORTS = range(0, 65536)  # TCP's 16-bit port field; 0 asks the system for any free one


class PreviewError(StudyError, OSError):
    """The preview cannot listen on the port asked for; the message names --port and the fix."""


class _State:
    """The current build's number and error, shared by the handler threads; `stopped` ends them."""

    def __init__(self) -> None:
        self.version, self.error, self.stopped = 0, None, False
        self.changed = threading.Condition()

    def publish(self, error: str | None) -> None:
        with self.changed:
            self.version, self.error = self.version + 1, error
            self.changed.notify_all()

    def stop(self) -> None:
        with self.changed:
            self.stopped = True
            self.changed.notify_all()


def _error_page(error: str) -> bytes:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Build failed</title></head>'
        f"<body><main><h1>The build failed</h1><pre>{html.escape(error)}</pre>"
        "<p>Fix the source; this page reloads by itself.</p></main>"
        f"{RELOADER}</body></html>"
    ).encode()


def _unservable(path: str) -> bool:
    """Whether a request path, percent-decoded as SimpleHTTPRequestHandler decodes it, holds what no
    file name can: a NUL, or a lone surrogate (a percent-encoded half of a UTF-16 pair). On those the
    handler's file calls raise ValueError, which drops the connection unanswered; not UTF-8 is
    harmless (decoded with replacement characters, it names no file: 404)."""
    try:
        text = urllib.parse.unquote(path, errors="surrogatepass")
    except UnicodeDecodeError:
        text = urllib.parse.unquote(path)
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        return True
    return "\0" in text


class _Handler(http.server.SimpleHTTPRequestHandler):
    state: _State

    def log_message(self, *args) -> None:  # the terminal shows the builds, not every request
        pass

    def parse_request(self) -> bool:
        """The request line and headers, and a path that can name a file, or 400 (for every method)."""
        if not super().parse_request():
            return False
        if _unservable(self.path):
            self.send_error(HTTPStatus.BAD_REQUEST, "Malformed path")
            return False
        return True

    def do_GET(self) -> None:
        if self.path == EVENTS:
            return self._events()
        if self.state.error is not None and self.path in ("/", "/index.html"):
            return self._send(_error_page(self.state.error), "text/html; charset=utf-8")
        if self.path in ("/", "/index.html"):
            page = Path(self.directory, "index.html")
            if page.is_file():
                text = page.read_text(encoding="utf-8").replace("</body>", RELOADER + "\n</body>", 1)
                return self._send(text.encode(), "text/html; charset=utf-8")
        return super().do_GET()

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _newer(self, seen: int) -> bool:
        return self.state.version != seen or self.state.stopped

    def _events(self) -> None:
        """Server-sent events: one "reload" message per new build, until the page goes away or the
        preview stops (then the stream ends, and its thread and socket with it)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = self.state.version
        try:
            while True:
                with self.state.changed:
                    self.state.changed.wait_for(functools.partial(self._newer, seen), timeout=15)
                if self.state.stopped:
                    return
                if self.state.version != seen:
                    seen = self.state.version
                    self.wfile.write(b"data: reload\n\n")
                else:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


class Preview:
    def __init__(self, site_dir: Path, rebuild: Callable[[], str | None], port: int = 8000) -> None:
        """Listens at once, so that a port taken is said before the first build, not after it."""
        self.state = _State()
        self.rebuild = rebuild
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = _listen(port, functools.partial(handler, directory=str(site_dir)))
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def build(self) -> None:
        self.state.publish(self.rebuild())

    def run(self, watched: Iterable[Path], say: Callable[[str], object] = print) -> None:
        """Build, serve, and rebuild on every change under `watched`, until Ctrl-C (or SIGTERM), whose
        exception comes out of here as raised; the server, its event streams and the watcher end."""
        try:
            self.build()
            with self._serving():
                say(f"serving {self.url} (Ctrl-C stops)")
                self._rebuild_on_changes(list(watched), say)
        finally:
            self.server.server_close()

    @contextlib.contextmanager
    def _serving(self) -> Iterator[None]:
        server = threading.Thread(target=self.server.serve_forever, name="preview-server", daemon=True)
        server.start()
        try:
            yield
        finally:
            self.state.stop()  # open pages' event streams end, and their threads and sockets with them
            self.server.shutdown()  # serve_forever looks every 0.5 s
            server.join()

    def _rebuild_on_changes(self, watched: list[Path], say: Callable[[str], object]) -> None:
        """Rebuild on each batch of changes, until a signal's exception ends it.

        The watcher runs in a thread of its own so that this thread, the main one, waits in Python,
        where a signal handler's exception arrives as raised. In watchfiles' own wait any such
        exception became KeyboardInterrupt (watchfiles 1.3, main.py: its native loop answers a failed
        signal check with "signal", which watch() raises as KeyboardInterrupt), so SIGTERM stopped
        serve as if it were Ctrl-C.
        """
        stop, batches = threading.Event(), queue.Queue()
        watcher = threading.Thread(
            target=_watch, args=(watched, stop, batches), name="preview-watcher", daemon=True
        )
        watcher.start()
        try:
            while True:
                changes = _next_changes(batches)
                say(f"changed: {', '.join(sorted({Path(p).name for _, p in changes}))}")
                self.build()
        finally:
            stop.set()
            watcher.join(timeout=2)  # watchfiles looks at `stop` every 50 ms


def _listen(port: int, handler: Callable[..., _Handler]) -> http.server.ThreadingHTTPServer:
    """A server on 127.0.0.1:`port`, or one line naming --port and the fix."""
    if port not in PORTS:
        raise PreviewError(
            f"--port {port} is not a port (0 to {PORTS[-1]}): choose one in that range, "
            "or --port 0 for any free one"
        )
    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        held = "is in use" if exc.errno == errno.EADDRINUSE else "cannot be opened"
        raise PreviewError(
            f"--port {port} {held} ({exc.strerror}): choose another with --port, or --port 0 for any free one"
        ) from None


def _watch(watched: list[Path], stop: threading.Event, batches: queue.Queue) -> None:
    """Put each batch of changes under `watched` on `batches` until `stop` is set; a failure of the
    watcher goes there too, for the main thread to raise with its traceback."""
    try:
        for changes in watchfiles.watch(*watched, stop_event=stop, raise_interrupt=False):
            batches.put(changes)
    except Exception as exc:
        batches.put(exc)


def _next_changes(batches: queue.Queue) -> set[tuple[watchfiles.Change, str]]:
    """The next batch of changes and every one queued behind it (saved during the last build), so
    that they make one build; a failure of the watcher is raised here."""
    changes = set()
    batch = batches.get()
    while True:
        if isinstance(batch, Exception):
            raise batch
        changes |= batch
        try:
            batch = batches.get_nowait()
        except queue.Empty:
            return changes
