"""Build the report of "Stress-Testing Convolutional Neural Networks": one command, every stage cached.

    python build.py [--profile paper|smoke]      train or load, evaluate, analyse, check, draw, render
    python build.py freeze --profile P [--dry-run]   freeze what the last build used into report/frozen/P/
    python build.py check --profile P [--against published|frozen] [--json] [--junit F] [--markdown F]
    python build.py diff [REV | OLD_OUT NEW_OUT] --profile P   this build against the frozen numbers at REV
    python build.py serve --profile P [--port N]   build, serve on 127.0.0.1, rebuild and reload on change
    python build.py bundle --profile paper         the paper run as a portable GPU job (gpu/README.md)
    python build.py import results-paper.tar       verify what the job returned, freeze it into report/frozen/

Every command exits 0 when done and 2 on a usage, input or setup error; check and diff exit 1
when a claim failed or is missing.

This file is the build: `build_report()` reads as the report's table of contents, the stage
functions below it as the steps, and `main()` maps each command to its function; the other
commands live in commands/. Each stage runs only when its config, inputs or code changed, and
says what it did and why. A build that only renders never imports torch.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from commands import workspace
from commands.analyse import analyse_files, analysis_config
from commands.arguments import parse_args
from commands.cellrun import CellRun, cell_from_json, cell_run, run_options
from commands.executors.job import watch_parent
from commands.executors.outcome import Outcome
from commands.exits import exit_status
from commands.freeze import freeze
from commands.gate import check, diff
from commands.gpu_job import bundle, import_archives
from commands.progress import GridProgress, epoch_line
from commands.serve import serve
from commands.sources import (
    cells_to_train,
    check_external_weights,
    frozen_cell,
    trained_here,
    uses_frozen,
)
from commands.stage_code import CODE, code_paths
from commands.training import cell_is_current, evaluate_cell, evaluate_stage, train_cell
from commands.workspace import (
    OUTPUT_NAMES,
    Paths,
    RunFiles,
    data_folder,
    log,
    output_paths,
    shown,
)
from pipeline.config import MODELS, run_config, to_dict
from pipeline.errors import StudyError
from pipeline.files import atomic_dir, claim_folder, ensure_writable, folder_lock, write_json
from pipeline.grid import cell_config, other_cells
from pipeline.leftovers import clean_leftovers
from pipeline.stages import Key, Stage

if TYPE_CHECKING:
    from report.publish import Figures


def build_report(args, paths: Paths) -> None:
    check_external_weights(args)  # both given weights files, before any evaluation
    if not train_grid(args, paths):  # every run still to train, by --executor; False: they run on
        return
    runs = {model: obtain_run(model, args, paths) for model in MODELS}  # §3 baseline, §6 CutMix
    others = obtain_grid(args, paths)  # §9: the other seeds and the ablation, where there are any
    analyse_stage(runs, others, paths)  # §4 failures, §7 head-to-head, §8 lessons, §9, and beyond
    figures, figures_key = figures_stage(runs, paths)  # Figures 1–8 and beyond, drawn meanwhile
    try:
        check_stage(paths)  # the study's stated numbers against ours
        render_stage(paths, figures, figures_key, pdf=not args.no_pdf)  # the PDF and the site
        figures.all()  # every figure drawn and saved, also when the render stage had nothing to do
    finally:
        figures.close()  # workers still drawing (after an error) are stopped
    log(
        f"{'done':<22} {paths.out / 'site' / 'index.html'}"
        + ("" if args.no_pdf else f" and {paths.out / 'report.pdf'}")
    )


def build(args) -> None:
    paths = output_paths(args)
    claim_folder(paths.out, args.profile, adopt=not args.out)
    ensure_writable(paths.out / ".keys")  # before any output is replaced, not after
    with folder_lock(paths.out, log):
        clean_leftovers(paths.out, OUTPUT_NAMES)  # what a killed build left beside its outputs
        clean_leftovers(paths.out / ".keys", [f"{stage}.json" for stage in CODE])
        build_report(args, paths)


# ----------------------------------------------------------------------------- train, evaluate


def train_grid(args, paths: Paths) -> bool:
    """Train and evaluate each of the grid's runs that needs it (commands/sources.py decides which):
    here one after another, in --jobs local processes, or as a Slurm job array (commands/executors/).

    A failed run is named and the others go on, each kept. False when Slurm runs the cells on after
    this build has gone (--no-wait): `build.py --executor slurm` again gathers them.
    """
    if not cells_to_train(args, paths) and args.executor == "local":
        return True  # nothing to train: runs/ is left as it is
    with folder_lock(ensure_writable(workspace.RUNS / args.profile), log):
        todo = cells_to_train(args, paths)  # again, now that no other build trains
        options = run_options(args) if todo else None  # a build that only renders never imports torch
        runs = [cell_run(cell, options, paths) for cell in todo]
        if args.executor == "slurm" or args.jobs > 1:  # a job only for a cell that has work to do
            runs = [as_job(run) for run in runs if args.retrain or not cell_is_current(run)]
            if runs and options.synthetic:
                data_folder(options)  # written once here, not by every job at once
        if args.executor == "slurm":
            from commands.executors.slurm import run_on_slurm

            outcome = run_on_slurm(runs, args, paths)
        elif args.jobs > 1:
            from commands.executors.local import run_locally

            outcome = run_locally(runs, args)
        else:
            outcome = train_here(runs)
    return outcome.report(len(runs))


def train_here(runs: list[CellRun]) -> Outcome:
    """Each cell in this process, one after another, with the grid's time left after each epoch."""
    progress = GridProgress([(r.name, r.config.train.epochs) for r in runs], log)
    outcome = Outcome()
    for run in runs:
        try:
            train_cell(run, progress.epoch_of(run.name), progress.evaluating(run.name))
        except StudyError as exc:
            outcome.failed[run.name] = str(exc)
            log(f"{'failed ' + run.name:<22} {exc}")
    return outcome


def as_job(run: CellRun) -> CellRun:
    """A cell as a job gets it: a retrain is prepared before the job starts (reset_training), so
    that a job requeued mid-training resumes instead of starting over."""
    return dataclasses.replace(run, options=dataclasses.replace(run.options, retrain=False))


def cell(args) -> None:
    """`build.py cell CELL`: one cell, as a job of an executor runs it (commands/executors/)."""
    watch_parent()  # a local job ends with the build that started it, a Slurm job with its step
    run = cell_from_json(args.targets[0])
    if run.options.threads:
        import torch

        torch.set_num_threads(run.options.threads)  # the numbers depend on it: the job's share
    train_cell(run, on_epoch=epoch_line(run.name, run.config.train.epochs, log))


def obtain_run(model: str, args, paths: Paths) -> RunFiles:
    """Weights given with --checkpoint-*, evaluated; the frozen results when there is no newer run
    and nothing else was asked; otherwise the run train_grid left in runs/<profile>/<model>/."""
    cfg = run_config(args.profile, model)
    external = getattr(args, f"checkpoint_{model}")
    if external is None and uses_frozen(model, args, paths):
        frozen = paths.frozen_dir(model)
        ignored = [o for o, on in (("--device", args.device), ("--synthetic", args.synthetic)) if on]
        note = f" ({' and '.join(ignored)} not used for a frozen run)" if ignored else ""
        log(f"{'load ' + model:<22} frozen results: {shown(frozen)}{note}")
        return RunFiles(frozen / "eval.npz", frozen / "history.json", source="frozen")
    weights = Path(external) if external else paths.run_dir(model) / "checkpoint.pt"
    return evaluate_stage(cfg, weights, paths.run_dir(model), model, run_options(args))


def obtain_grid(args, paths: Paths) -> dict[str, RunFiles]:
    """The grid's other runs (pipeline/grid.py) by name: a run of this machine, else the frozen one."""
    found, missing = {}, []
    with folder_lock(ensure_writable(workspace.RUNS / args.profile), log):
        for cell in other_cells(args.profile):
            run_dir, frozen = paths.run_dir(cell.name), frozen_cell(paths, cell.name)
            if trained_here(run_dir):
                cfg = cell_config(args.profile, cell)
                found[cell.name] = evaluate_cell(cfg, run_dir, cell.name, run_options(args))
            elif frozen is not None:
                found[cell.name] = frozen
            else:
                missing.append(cell.name)
    if missing:
        log(
            f"{'grid':<22} {len(missing)} runs not trained ({', '.join(missing)}): --train-missing trains them"
        )
    return found


# ----------------------------------------------------------------------------- analyse, check, draw, render


def analyse_stage(runs: dict[str, RunFiles], others: dict[str, RunFiles], paths: Paths) -> None:
    """Seed §4–§8 and beyond: every number, table and claim, into results.json."""
    cfg = analysis_config()
    inputs = [p for r in [*runs.values(), *others.values()] for p in (r.eval, r.history)]
    key = Key.of({"analysis": to_dict(cfg), "profile": paths.profile}, inputs, code_paths("analyse"))

    def work():
        write_json(paths.results, analyse_files(runs, cfg, paths.profile, others))

    Stage("analyse", paths.key("analyse"), [paths.results]).run(key, work, log)


def check_stage(paths: Paths) -> None:
    """The published numbers (report/claims.yaml) against this build, for the appendix."""
    key = Key.of({}, [paths.results, workspace.CLAIMS], code_paths("check"))

    def work():
        from report.claims import check_published, load_claims, load_results

        write_json(paths.checks, check_published(load_results(paths.results), load_claims(workspace.CLAIMS)))

    Stage("check", paths.key("check"), [paths.checks]).run(key, work, log)


def figures_stage(runs: dict[str, RunFiles], paths: Paths) -> tuple[Figures, Key]:
    """Figures 1–8 of the study and those beyond it, as SVG, and the key they are drawn under.

    Drawn in worker processes while the check and render stages begin: WeasyPrint takes each
    figure when it reaches it, and the figures are saved (and this stage recorded) once all are in.
    """
    folder = paths.out / "figures"
    inputs = [paths.results] + [r.eval for r in runs.values()]
    key = Key.of({}, inputs, code_paths("figures"))
    started = Stage("figures", paths.key("figures"), [folder]).begin(key, log)
    if started is None:
        from report.publish import FigureFolder

        return FigureFolder(folder), key

    from pipeline.evalfile import load_eval
    from report.claims import load_results
    from report.figures.drawing import Drawing

    def save(svgs: dict[str, str]) -> None:
        def write():
            with atomic_dir(folder) as tmp:
                for name, svg in svgs.items():
                    (tmp / f"{name}.svg").write_text(svg, encoding="utf-8")

        started.finish(write)

    evals = {m: load_eval(r.eval) for m, r in runs.items()}
    return Drawing(load_results(paths.results), evals, on_complete=save), key


def render_stage(paths: Paths, figures: Figures, figures_key: Key, pdf: bool) -> None:
    """The PDF and, from the same HTML with screen CSS, the HTML site.

    Keyed by the figures' key rather than by their files: equal keys draw equal SVG, and the
    key is known before the figures are.
    """
    site, report_pdf = paths.out / "site", paths.out / "report.pdf"
    config = {"pdf": pdf, "figures": figures_key.__dict__}
    key = Key.of(config, [paths.results, paths.checks], code_paths("render"))

    def work():
        from report.publish import publish

        publish(paths.results, paths.checks, figures, site, report_pdf if pdf else None, workspace.CASES)

    Stage("render", paths.key("render"), [site / "index.html"] + ([report_pdf] if pdf else [])).run(
        key, work, log
    )


# ----------------------------------------------------------------------------- the commands


COMMANDS = {
    "build": build,
    "cell": cell,  # one cell of the grid: what --jobs and --executor slurm start
    "freeze": freeze,  # commands/freeze.py
    "check": check,  # commands/gate.py
    "diff": diff,
    "serve": serve,  # commands/serve.py
    "bundle": bundle,  # commands/gpu_job.py
    "import": import_archives,
}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__)
    return exit_status(lambda: COMMANDS[args.command](args))


if __name__ == "__main__":
    code = main()
    # A build leaves about a million objects behind (WeasyPrint's boxes): the garbage collector's
    # last pass over them at exit took 0.15-0.25 s (2026-11-29). Frozen objects are skipped;
    # the memory goes back with the process anyway.
    gc.freeze()
    sys.exit(code)
