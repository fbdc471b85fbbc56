"""Build times from the frozen smoke results: cold render, no-op rebuild, template-only change.

Targets on two CPU cores (issue 5): cold at most 10 s, no-op at most 2 s. Each figure is one
`python build.py --profile smoke` end to end, as a user runs it, into a temporary output folder.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "report.html"


def timed_build(out: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--profile", "smoke", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, done.stdout


def main() -> None:
    original = TEMPLATE.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "smoke"
        cold, log = timed_build(out)
        noop, _ = timed_build(out)
        try:
            TEMPLATE.write_text(original + "{# benchmark: a template-only change #}\n")
            template, template_log = timed_build(out)
        finally:
            TEMPLATE.write_text(original)
    print(log.rstrip())
    print(
        f"cold render (analyse, figures, HTML, PDF): {cold:5.2f} s   target <= 10 s   {'ok' if cold <= 10 else 'MISSED'}"
    )
    print(
        f"no-op rebuild:                             {noop:5.2f} s   target <= 2 s    {'ok' if noop <= 2 else 'MISSED'}"
    )
    print(f"template-only change (re-render only):     {template:5.2f} s   ran: {ran_stages(template_log)}")
    print(f"ratios: cold/no-op {cold / noop:.1f}x, cold/template {cold / template:.1f}x")


def ran_stages(log: str) -> str:
    return ", ".join(line.split()[0] for line in log.splitlines() if " ran:" in line) or "none"


if __name__ == "__main__":
    main()
