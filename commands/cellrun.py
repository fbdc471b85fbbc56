"""One cell of the grid as a job: what to train and evaluate, where, and with which options.

The build plans the cells and hands each to an executor (in this process, local processes, or
Slurm jobs); a job outside this process gets its cell as JSON on the command line of
`build.py cell` and reads it back here. The cell carries its whole run config, so that a job runs
exactly what the build planned, whatever the job's own copy of the profiles says.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from commands.workspace import Paths
from pipeline.config import ConfigError, RunConfig, run_config_from_dict, to_dict
from pipeline.grid import Cell, cell_config
from pipeline.jsonfile import JSONInputError, parse_json


@dataclass(frozen=True)
class RunOptions:
    """The command-line options a training and an evaluation read (named as build.py's flags)."""

    data_dir: str | None  # --data-dir, made absolute; None: $CIFAR100_DIR, else data/
    synthetic: bool
    device: str | None  # --device; None: cuda when available
    precision: str  # "fp32" or "bf16": --precision, auto resolved (run_options)
    retrain: bool
    threads: int | None = None  # torch's intra-op threads; None: its default (every core)


@dataclass(frozen=True)
class CellRun:
    """One cell to train and evaluate: its name, config and folder, and the options it runs with."""

    name: str
    config: RunConfig
    run_dir: Path
    primary: bool  # the study's pair: evaluated in full only; the other cells also compactly
    options: RunOptions

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "config": to_dict(self.config),
                "run_dir": str(self.run_dir),
                "primary": self.primary,
                "options": asdict(self.options),
            },
            sort_keys=True,
        )


def cell_from_json(text: str) -> CellRun:
    """The inverse of CellRun.to_json; anything else is one ConfigError naming what is wrong."""
    try:
        d = parse_json(text.encode())
        options = RunOptions(**d["options"])
        run = CellRun(d["name"], run_config_from_dict(d["config"]), Path(d["run_dir"]), d["primary"], options)
    except (JSONInputError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"build.py cell: not a cell of the grid ({type(exc).__name__}: {exc})") from None
    kinds = [
        (run.name, str),
        (run.primary, bool),
        (options.synthetic, bool),
        (options.retrain, bool),
        (options.precision, str),
        (options.data_dir, (str, type(None))),
        (options.device, (str, type(None))),
        (options.threads, (int, type(None))),
    ]
    well_formed = all(isinstance(value, kind) for value, kind in kinds)
    if not well_formed or options.precision not in ("fp32", "bf16") or not run.run_dir.is_absolute():
        raise ConfigError("build.py cell: not a cell of the grid (a field of the wrong kind)")
    return run


def run_options(args) -> RunOptions:
    """The options every cell of this build runs with; auto precision resolved for the device the
    cells will run on (under Slurm: the jobs' GPUs when they ask for some, else a CPU like this one)."""
    from pipeline.precision import resolve_precision

    data_dir = str(Path(args.data_dir).absolute()) if args.data_dir else None
    device, threads = args.device, None
    if args.executor == "slurm":
        from commands.executors.slurm_settings import slurm_settings

        settings = slurm_settings(args)
        device = args.device or ("cuda" if settings.gpus_per_job else "cpu")
        threads = settings.cpus_per_job
        precision = resolve_precision(args.precision, "cuda" if device.startswith("cuda") else "cpu")
    else:
        from pipeline.device import resolve_device

        precision = resolve_precision(args.precision, resolve_device(args.device))
    return RunOptions(data_dir, args.synthetic, device, precision, args.retrain, threads)


def cell_run(cell: Cell, options: RunOptions, paths: Paths) -> CellRun:
    return CellRun(
        cell.name, cell_config(paths.profile, cell), paths.run_dir(cell.name), cell.primary, options
    )
