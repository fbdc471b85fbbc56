"""How the grid's Slurm jobs are asked for: slurm.yaml (committable defaults), then --slurm-* flags.

Each key is one sbatch request of every cell's job (sbatch(1)); `sbatch` passes any other
parameter through as it is, and `setup` runs shell lines before the job (module load, a venv).
An unknown key or a value of the wrong kind is one line naming the file and the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import ConfigError
from pipeline.project import ROOT

SETTINGS_FILE = ROOT / "slurm.yaml"


@dataclass(frozen=True)
class SlurmSettings:
    partition: str | None = None  # --partition; None: the cluster's default
    gpus_per_job: int = 0  # --gpus-per-node of each cell's job
    cpus_per_job: int = 1  # --cpus-per-task, and the job's torch threads (the numbers depend on them)
    time: int = 60  # --time, in minutes: a cell that runs longer is requeued and resumes
    array_parallelism: int = 16  # at most this many of the array's jobs run at once (--array=…%N)
    mem_gb: float | None = None  # --mem; None: the cluster's default
    poll_seconds: float = 10.0  # how often the build asks squeue how its jobs stand
    sbatch: dict[str, str] = field(default_factory=dict)  # any other sbatch parameter, as it is
    setup: list[str] = field(default_factory=list)  # shell lines run before each job

    def check(self, source: str) -> SlurmSettings:
        """Itself, or one ConfigError naming `source` and the setting that cannot be used."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not _kind_ok(value, f.name):
                raise ConfigError(f"{source}: {f.name}: {value!r} is not {KINDS[f.name][1]}")
        positive = {"cpus_per_job": 1, "time": 1, "array_parallelism": 1}
        for name, least in positive.items():
            if getattr(self, name) < least:
                raise ConfigError(f"{source}: {name}: {getattr(self, name)!r} must be at least {least}")
        if self.gpus_per_job < 0 or self.poll_seconds <= 0 or (self.mem_gb is not None and self.mem_gb <= 0):
            raise ConfigError(f"{source}: gpus_per_job, poll_seconds and mem_gb cannot be negative or zero")
        return self


KINDS = {
    "partition": ((str, type(None)), "a partition name"),
    "gpus_per_job": (int, "a whole number"),
    "cpus_per_job": (int, "a whole number"),
    "time": (int, "a number of minutes"),
    "array_parallelism": (int, "a whole number"),
    "mem_gb": ((int, float, type(None)), "a number of GB"),
    "poll_seconds": ((int, float), "a number of seconds"),
    "sbatch": (dict, "a mapping of sbatch parameters to values"),
    "setup": (list, "a list of shell lines"),
}


def _kind_ok(value, name: str) -> bool:
    kinds = KINDS[name][0]
    if isinstance(value, bool) or not isinstance(value, kinds):
        return False
    if name == "sbatch":
        return all(
            isinstance(k, str) and isinstance(v, str | int) and not isinstance(v, bool)
            for k, v in value.items()
        )
    if name == "setup":
        return all(isinstance(line, str) for line in value)
    return True


def read_settings(path: Path) -> SlurmSettings:
    """slurm.yaml's settings (an absent file: the defaults)."""
    if not path.exists():
        if path != SETTINGS_FILE:
            raise ConfigError(f"--slurm-config {path}: no such file")
        return SlurmSettings()
    from report.yamlfile import load_yaml

    data = load_yaml(path, ConfigError) or {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: not a mapping of settings: see the README's 'Running the grid on a cluster'"
        )
    unknown = sorted(set(map(str, data)) - set(KINDS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r}: use one of {', '.join(KINDS)}")
    return SlurmSettings(**data).check(str(path))


def slurm_settings(args) -> SlurmSettings:
    """slurm.yaml (or --slurm-config), then the --slurm-* flags over it."""
    path = Path(args.slurm_config) if args.slurm_config else SETTINGS_FILE
    settings = read_settings(path)
    flags = {
        "partition": args.slurm_partition,
        "gpus_per_job": args.slurm_gpus_per_job,
        "time": args.slurm_time,
        "array_parallelism": args.slurm_array_parallelism,
    }
    changes = {k: v for k, v in flags.items() if v is not None}
    extra = dict(settings.sbatch)
    for item in args.slurm_sbatch or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--slurm-sbatch {item!r}: give KEY=VALUE, as in --slurm-sbatch account=mylab")
        extra[key.removeprefix("--")] = value
    return dataclasses.replace(settings, **changes, sbatch=extra).check("the --slurm-* options")
