"""The command line of build.py: every command and its options, in any order, each flag with its help.

A mistake on the command line is one line naming the option, and exit status 2 (commands/exits.py).
"""

from __future__ import annotations

import argparse
import sys

from commands.exits import INPUT_ERROR
from pipeline.config import PROFILES


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        print(f"build.py: error: {message} (see python build.py --help)", file=sys.stderr)
        sys.exit(INPUT_ERROR)


def positive(text: str) -> int:
    return _whole(text, 1)


def natural(text: str) -> int:
    return _whole(text, 0)


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} must be at least {least}")
    return value


def parse_args(argv: list[str] | None, usage: str = "") -> argparse.Namespace:
    """The command and its options from `argv` (sys.argv when None); `usage`'s first paragraph heads --help."""
    p = OneLineParser(
        description=usage.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "command",
        nargs="?",
        default="build",
        choices=["build", "freeze", "check", "diff", "serve", "bundle", "import", "cell"],
        help="build the report (default), freeze what it used, check the claims, diff against a revision, "
        "serve a live preview, bundle the GPU job, or import what it returned; cell: one run of the grid, "
        "as --jobs and --executor slurm start it",
    )
    p.add_argument(
        "targets",
        nargs="*",
        help="diff: a git revision (default HEAD), or two output folders; import: the results archives; "
        "cell: the cell, as its executor gives it",
    )
    p.add_argument(
        "--profile", default="paper", help=f"which settings: {' or '.join(PROFILES)} (default paper)"
    )
    p.add_argument(
        "--retrain",
        action="store_true",
        help="train both models from scratch instead of using frozen or earlier results",
    )
    p.add_argument(
        "--train-missing",
        action="store_true",
        help="train the profile's other runs (its seeds and variants) that are neither frozen nor trained "
        "here, resuming interrupted ones, one at a time",
    )
    p.add_argument(
        "--executor",
        default="local",
        choices=["local", "slurm"],
        help="where the runs to train go: local (default; --jobs at a time) or a Slurm job array "
        "(slurm.yaml, --slurm-*; README: 'Running the grid on a cluster')",
    )
    p.add_argument(
        "--jobs",
        type=positive,
        default=1,
        help="local: train this many runs at once, each on its own GPU or its share of the cores (default 1)",
    )
    p.add_argument(
        "--share-devices", action="store_true", help="local: allow more --jobs than GPUs (or cores)"
    )
    p.add_argument("--slurm-config", metavar="FILE", help="slurm: the settings file (default slurm.yaml)")
    p.add_argument("--slurm-partition", metavar="NAME", help="slurm: the partition of every job")
    p.add_argument("--slurm-gpus-per-job", type=natural, metavar="N", help="slurm: GPUs per job")
    p.add_argument("--slurm-time", type=positive, metavar="MIN", help="slurm: each job's time limit, minutes")
    p.add_argument(
        "--slurm-array-parallelism", type=positive, metavar="N", help="slurm: at most N jobs at once"
    )
    p.add_argument(
        "--slurm-sbatch",
        action="append",
        metavar="KEY=VALUE",
        help="slurm: any other sbatch parameter, e.g. account=mylab (repeatable)",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="slurm: submit and exit; the same command again gathers what finished",
    )
    p.add_argument(
        "--checkpoint-baseline", metavar="PATH", help="evaluate these baseline weights instead of training"
    )
    p.add_argument(
        "--checkpoint-cutmix", metavar="PATH", help="evaluate these CutMix weights instead of training"
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder holding cifar-100-python (default $CIFAR100_DIR, else data/)",
    )
    p.add_argument(
        "--synthetic",
        action="store_true",
        help="use generated stand-in data (no dataset, no network); the report says so",
    )
    p.add_argument("--device", help="cuda, cuda:1 or cpu (default: cuda when available)")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="arithmetic of training and evaluation: auto (default) is bf16 on CUDA and on CPUs with AMX or AVX512-BF16, else fp32",
    )
    p.add_argument(
        "--out", metavar="DIR", help="output folder (default out/<profile>; bundle: out/job-<profile>)"
    )
    p.add_argument("--no-pdf", action="store_true", help="build the site only")
    p.add_argument(
        "--against",
        default="published",
        choices=["published", "frozen"],
        help="check: compare with the study's numbers (claims.yaml) or with the frozen results",
    )
    p.add_argument("--json", action="store_true", help="check, diff: print strict JSON instead of the table")
    p.add_argument("--verbose", action="store_true", help="check, diff: list the passing claims too")
    p.add_argument(
        "--junit", metavar="FILE", help="check, diff: also write JUnit XML, one testcase per claim"
    )
    p.add_argument("--markdown", metavar="FILE", help="check, diff: also write a Markdown summary")
    p.add_argument(
        "--dry-run", action="store_true", help="freeze, import: show what would move, write nothing"
    )
    p.add_argument("--port", type=int, default=8000, help="serve: the port on 127.0.0.1 (0: any free one)")
    p.add_argument(
        "--replace",
        action="store_true",
        help="freeze, import: allow replacing frozen results of another kind",
    )
    # intermixed: options and the positionals in any order (`diff --profile smoke HEAD~1`)
    args = p.parse_intermixed_args(argv)
    for option in ("junit", "markdown", "out", "data_dir", "checkpoint_baseline", "checkpoint_cutmix"):
        if getattr(args, option) == "":
            p.error(f"--{option.replace('_', '-')} needs a path, got an empty one")
    if args.targets and args.command not in ("diff", "import", "cell"):
        p.error(f"unexpected argument {args.targets[0]!r}: only diff, import and cell take arguments")
    if args.command == "cell" and len(args.targets) != 1:
        p.error("cell takes one argument, the cell as its executor gives it")
    local_only = [f for f, on in (("--jobs", args.jobs > 1), ("--share-devices", args.share_devices)) if on]
    slurm_only = [
        f"--{name.replace('_', '-')}"
        for name in ("slurm_config", "slurm_partition", "slurm_gpus_per_job", "slurm_time")
        + ("slurm_array_parallelism", "slurm_sbatch", "no_wait")
        if getattr(args, name) not in (None, False)
    ]
    if args.executor == "slurm" and local_only:
        p.error(
            f"{local_only[0]} is for --executor local: a Slurm array runs --slurm-array-parallelism at once"
        )
    if args.executor == "local" and slurm_only:
        p.error(f"{slurm_only[0]} is for --executor slurm")
    if args.command == "import" and not args.targets:
        p.error(
            "import needs the results archive(s) a GPU job returned: python build.py import results-paper.tar"
        )
    if args.profile not in PROFILES:
        p.error(f"unknown profile {args.profile!r}: use one of {', '.join(PROFILES)}")
    return args
