"""Where things live: the runs trained here, the frozen results, a profile's output folder, the
assets a build reads; and the two ways a command speaks of them (log, shown).

Commands read these paths as `workspace.RUNS` and so on at call time, so that a test can move them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.project import ROOT

RUNS = ROOT / "runs"  # runs/<profile>/<model>/: checkpoint, history, eval (git-ignored)
FROZEN = ROOT / "report" / "frozen"  # report/frozen/<profile>/<model>/: committed results
SYNTHETIC = ROOT / "data" / "synthetic"  # generated stand-in data for --synthetic (git-ignored)
CASES = ROOT / "assets" / "cases.yaml"  # the failure cases shown, and the study's hypotheses
CLAIMS = ROOT / "report" / "claims.yaml"  # what the study states, with tolerances
OUTPUT_NAMES = (
    "results.json",
    "checks.json",
    "figures",
    "site",
    "report.pdf",
)  # what a build writes in --out


def log(message: str) -> None:
    print(message, flush=True)


def shown(path: Path) -> str:
    """A path as the user reads it: relative to the project when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


@dataclass(frozen=True)
class Paths:
    profile: str
    out: Path  # out/<profile>: results, checks, figures, site, PDF

    def run_dir(self, model: str) -> Path:
        return RUNS / self.profile / model

    def frozen_dir(self, model: str) -> Path:
        return FROZEN / self.profile / model

    @property
    def results(self) -> Path:
        return self.out / "results.json"

    @property
    def checks(self) -> Path:
        return self.out / "checks.json"

    def key(self, stage: str) -> Path:
        return self.out / ".keys" / f"{stage}.json"


def output_paths(args) -> Paths:
    """Where this command's profile writes: --out, else out/<profile>."""
    return Paths(args.profile, Path(args.out) if args.out else ROOT / "out" / args.profile)


@dataclass(frozen=True)
class RunFiles:
    """What the analysis reads of one model: its evaluation and its training history."""

    eval: Path
    history: Path
    source: str  # "frozen", "trained" or "checkpoint"


def data_folder(args) -> Path:
    from pipeline.data import resolve_data_dir

    if not args.synthetic:
        return resolve_data_dir(args.data_dir)
    from pipeline.synthetic import write_synthetic

    folder = SYNTHETIC / "cifar-100-python"
    return folder if (folder / "SYNTHETIC").exists() else write_synthetic(SYNTHETIC)


def run_precision(args) -> str:
    """ "fp32" or "bf16": --precision, with auto resolved for the device the run would use."""
    from pipeline.device import resolve_device
    from pipeline.precision import resolve_precision

    return resolve_precision(args.precision, resolve_device(args.device))
