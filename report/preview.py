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

import functools
import html
import http.server
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import watchfiles

EVENTS = "/__events"
RELOADER = f'<script>new EventSource("{EVENTS}").onmessage = () => location.reload();</script>'


class _State:
    """The current build's number and error, shared by the handler threads."""

    def __init__(self) -> None:
        self.version, self.error = 0, None
        self.changed = threading.Condition()

    def publish(self, error: str | None) -> None:
        with self.changed:
            self.version, self.error = self.version + 1, error
            self.changed.notify_all()


def _error_page(error: str) -> bytes:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Build failed</title></head>'
        f"<body><main><h1>The build failed</h1><pre>{html.escape(error)}</pre>"
        "<p>Fix the source; this page reloads by itself.</p></main>"
        f"{RELOADER}</body></html>"
    ).encode()


class _Handler(http.server.SimpleHTTPRequestHandler):
    state: _State

    def log_message(self, *args) -> None:  # the terminal shows the builds, not every request
        pass

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
        return self.state.version != seen

    def _events(self) -> None:
        """Server-sent events: one "reload" message per new build, until the page goes away."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = self.state.version
        try:
            while True:
                with self.state.changed:
                    self.state.changed.wait_for(functools.partial(self._newer, seen), timeout=15)
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
        self.state = _State()
        self.rebuild = rebuild
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", port), functools.partial(handler, directory=str(site_dir))
        )
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def build(self) -> None:
        self.state.publish(self.rebuild())

    def run(self, watched: Iterable[Path], say: Callable[[str], object] = print) -> None:
        """Build, serve, and rebuild on every change under `watched`, until Ctrl-C (or SIGTERM)."""
        self.build()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        say(f"serving {self.url} (Ctrl-C stops)")
        try:
            for changes in watchfiles.watch(*watched, raise_interrupt=True):
                say(f"changed: {', '.join(sorted({Path(p).name for _, p in changes}))}")
                self.build()
        finally:  # bounded: an event stream still open must not hold up Ctrl-C
            closer = threading.Thread(target=self.server.shutdown, daemon=True)
            closer.start()
            closer.join(timeout=2)
            self.server.server_close()
