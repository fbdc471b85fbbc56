"""serve: the live preview (report/preview.py) of a profile's build."""

from __future__ import annotations

import signal
import sys

from commands.workspace import log, output_paths
from pipeline.project import ROOT


def serve(args) -> None:
    """Live preview: build, serve the site on 127.0.0.1, rebuild (only the stages whose keys changed)
    and reload open pages whenever the templates, assets, report code or frozen results change.

    Each build runs in a fresh process, so that a change to report/ code is picked up; its log is
    shown here, and a failed build shows its error in the page and here, and the server goes on.
    """
    import subprocess

    from report.preview import Preview

    paths = output_paths(args)
    command = [sys.executable, str(ROOT / "build.py"), "--profile", args.profile, "--out", str(paths.out)]
    # "Ctrl-C stops" must hold even when serve was started with SIGINT ignored (a job started with
    # `&` by a non-interactive shell, and everything it runs, inherits that; Python then installs
    # no KeyboardInterrupt handler): serve ignored Ctrl-C in a test suite started that way.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def rebuild() -> str | None:
        done = subprocess.run(command, capture_output=True, text=True)
        print(done.stdout, end="", flush=True)
        if done.returncode == 0:
            return None
        print(done.stderr, end="", file=sys.stderr, flush=True)
        return done.stderr.strip() or f"the build exited with {done.returncode}"

    watched = [ROOT / "templates", ROOT / "assets", ROOT / "report"]
    Preview(paths.out / "site", rebuild, args.port).run([p for p in watched if p.exists()], log)
