"""Build times from the frozen smoke results: cold render, no-op rebuild, template-only change.

Targets on two CPU cores: cold at most 10 s, no-op at most 2 s. Each figure is one
`python build.py --profile smoke` end to end, as a user runs it. The cold build runs `--runs`
times (default 5), each into a new output folder: the host's load moves a single run by a
second or two, so the verdict is on the median and every run is printed.

    python benchmarks/build_time.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from pipeline.project import ROOT  # noqa: E402

TEMPLATE = ROOT / "templates" / "report.html"
COLD_TARGET_S, NOOP_TARGET_S = 10.0, 2.0


def timed_build(out: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--profile", "smoke", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, done.stdout


def verdict(seconds: float, target: float) -> str:
    return "ok" if seconds <= target else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold builds to time (default 5)")
    runs = parser.parse_args().runs
    original = TEMPLATE.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        colds = []
        for k in range(runs):
            seconds, log = timed_build(Path(tmp) / f"cold{k}")
            colds.append(seconds)
        out = Path(tmp) / "cold0"
        noop, _ = timed_build(out)
        try:
            TEMPLATE.write_text(original + "{# benchmark: a template-only change #}\n")
            template, template_log = timed_build(out)
        finally:
            TEMPLATE.write_text(original)
    cold = statistics.median(colds)
    print(log.rstrip())
    print(f"cold render (analyse, figures, HTML, PDF), median of {runs}: {cold:5.2f} s   "
          f"target <= {COLD_TARGET_S:g} s   {verdict(cold, COLD_TARGET_S)}")  # fmt: skip
    within = sum(c <= COLD_TARGET_S for c in colds)
    print(f"  every run: {', '.join(f'{c:.2f}' for c in colds)} s; {within} of {runs} within target")
    print(f"no-op rebuild:                              {noop:5.2f} s   "
          f"target <= {NOOP_TARGET_S:g} s    {verdict(noop, NOOP_TARGET_S)}")  # fmt: skip
    print(f"template-only change (re-render only):      {template:5.2f} s   ran: {ran_stages(template_log)}")
    print(f"ratios: cold/no-op {cold / noop:.1f}x, cold/template {cold / template:.1f}x")


def ran_stages(log: str) -> str:
    return ", ".join(line.split()[0] for line in log.splitlines() if " ran:" in line) or "none"


if __name__ == "__main__":
    main()
