"""Training and evaluating one run of the grid: the train, evaluate and compact stages, each cached
by its key (pipeline/stages.py), and whether a run has anything left to do.

build.py runs them for the primary pair and the grid, in its own process or as a job of an
executor (`build.py cell`, commands/executors/); every file they write is replaced atomically.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from commands.cellrun import CellRun, RunOptions
from commands.sources import choose_device
from commands.stage_code import code_paths
from commands.workspace import RunFiles, data_folder, log, shown
from pipeline.config import RunConfig, to_dict
from pipeline.files import ensure_writable, folder_lock, write_json
from pipeline.stages import Key, Stage


def reset_training(run: CellRun) -> None:
    """Before a job retrains a run from scratch: its interrupted training and its train key go (both
    the build's own files), so that the job starts afresh and a requeued job resumes, rather than
    starting over again. The finished checkpoint stays until the new one replaces it."""
    shutil.rmtree(run.run_dir / ".training", ignore_errors=True)
    (run.run_dir / ".keys" / "train.json").unlink(missing_ok=True)


def train_cell(run: CellRun, on_epoch=None, evaluating=None) -> None:
    """Train one cell (or resume it, or find it up to date), then evaluate it; the cell's own lock
    keeps two builds, or two jobs, from training it at once."""
    with folder_lock(ensure_writable(run.run_dir), log):
        weights = train_stage(run.config, run.run_dir, run.name, run.options, on_epoch)
        with evaluating or contextlib.nullcontext():
            if run.primary:
                evaluate_stage(run.config, weights, run.run_dir, run.name, run.options)
            else:
                evaluate_cell(run.config, run.run_dir, run.name, run.options)


def cell_is_current(run: CellRun) -> bool:
    """Whether the cell's training and evaluation are both up to date (and no retrain was asked)."""
    weights = run.run_dir / "checkpoint.pt"
    trained = Stage("train", run.run_dir / ".keys" / "train.json", [weights, run.run_dir / "history.json"])
    if run.options.retrain or not trained.is_current(train_key(run.config, run.options)):
        return False
    outputs = [run.run_dir / "eval.npz", run.run_dir / "history.json"]
    evaluated = Stage("evaluate", run.run_dir / ".keys" / "evaluate.json", outputs)
    return evaluated.is_current(evaluate_key(run.config, weights, run.options)) and (
        run.primary or (run.run_dir / "predictions.npz").exists()
    )


def train_stage(cfg: RunConfig, run_dir: Path, name: str, options: RunOptions, on_epoch=None) -> Path:
    """Seed §3 and §6: train (or resume) one model.

    Training happens in run_dir/.training/ and its checkpoint and history replace the finished
    ones only at the end, so a failed or interrupted retrain leaves the previous run whole. A
    partial run there is resumed by a plain build when its key is the current one; --retrain
    always starts from scratch.
    """
    staging = run_dir / ".training"
    outputs = [run_dir / "checkpoint.pt", run_dir / "history.json"]
    stage = Stage(f"train {name}", run_dir / ".keys" / "train.json", outputs)
    key = train_key(cfg, options)

    def work():
        from pipeline.data import load_splits
        from pipeline.train import train_run

        device = choose_device(options, cfg)
        splits = load_splits(cfg.data, data_folder(options))
        if options.retrain or Stage("partial", staging / "key.json", []).stored() != key.__dict__:
            shutil.rmtree(staging, ignore_errors=True)  # from scratch: asked for, or settings/code changed
            write_json(staging / "key.json", key.__dict__)
        elif (staging / "key.json").exists():
            log(f"{'resume ' + name:<22} an interrupted training in {shown(staging)}")
        train_run(
            cfg,
            splits,
            staging,
            device,
            precision=options.precision,
            on_epoch=on_epoch,
            progress=on_epoch is None,
        )
        for path in outputs:
            os.replace(staging / path.name, path)
        shutil.rmtree(staging)

    stage.run(key, work, log, force=options.retrain)
    return run_dir / "checkpoint.pt"


def train_key(cfg: RunConfig, options: RunOptions) -> Key:
    config = {"run": to_dict(cfg), "synthetic": options.synthetic, "precision": options.precision}
    return Key.of(config, [], code_paths("train"))


def evaluate_stage(cfg: RunConfig, weights: Path, run_dir: Path, name: str, options: RunOptions) -> RunFiles:
    """Test and val logits, Grad-CAM maps of every test image, the images the report shows.

    Weights given with --checkpoint-* are evaluated into <run>/given/, apart from the run trained
    here, whose history and evaluation they must not replace.
    """
    trained_here = weights.parent == run_dir
    run_dir = run_dir / ("" if trained_here else "given")
    outputs = [run_dir / "eval.npz", run_dir / "history.json"]
    stage = Stage(f"evaluate {name}", run_dir / ".keys" / "evaluate.json", outputs)
    key = evaluate_key(cfg, weights, options)

    def work():
        from pipeline.evaluate import evaluate_weights

        evaluate_weights(
            cfg,
            weights,
            data_folder(options),
            run_dir,
            device_name=options.device,
            precision=options.precision,
        )

    stage.run(key, work, log)
    return RunFiles(*outputs, source="trained" if trained_here else "checkpoint")


def evaluate_key(cfg: RunConfig, weights: Path, options: RunOptions) -> Key:
    config = {"data": to_dict(cfg.data), "synthetic": options.synthetic, "precision": options.precision}
    return Key.of(config, [weights], code_paths("evaluate"))


def evaluate_cell(cfg: RunConfig, run_dir: Path, name: str, options: RunOptions) -> RunFiles:
    """A run of the grid, evaluated as the primary ones are and kept compactly (predictions.npz)."""
    full = evaluate_stage(cfg, run_dir / "checkpoint.pt", run_dir, name, options)
    compact = run_dir / "predictions.npz"

    def work():
        from pipeline.evalfile import load_eval
        from pipeline.predictions import predictions_of, save_predictions

        save_predictions(compact, predictions_of(load_eval(full.eval)))

    key = Key.of({}, [full.eval], code_paths("compact"))
    Stage(f"compact {name}", run_dir / ".keys" / "compact.json", [compact]).run(key, work, log)
    return RunFiles(compact, full.history, source="trained")
