"""Where each primary run's files come from: weights given with --checkpoint-*, a run of this
machine, the frozen results, or a training now; and the device a training needs."""

from __future__ import annotations

from pathlib import Path

from commands import workspace
from commands.workspace import Paths, RunFiles, run_precision, shown
from pipeline.config import MODELS, ConfigError, RunConfig, run_config
from pipeline.grid import Cell, cells


def uses_frozen(model: str, args, paths: Paths) -> bool:
    """Frozen results, when nothing else was asked and no run of this machine is newer or unfinished."""
    run_dir, frozen = paths.run_dir(model), paths.frozen_dir(model)
    if getattr(args, f"checkpoint_{model}") is not None or args.retrain:
        return False
    if (run_dir / "checkpoint.pt").exists() or interrupted(paths, model):
        return False
    if not frozen_complete(frozen) and frozen.exists():
        raise ConfigError(
            f"{shown(frozen)} is incomplete (eval.npz and history.json are needed): "
            f"restore it with git checkout -- {shown(frozen)}"
        )
    return frozen_complete(frozen)


def frozen_complete(folder: Path) -> bool:
    return (folder / "eval.npz").exists() and (folder / "history.json").exists()


def interrupted(paths: Paths, model: str) -> bool:
    """Whether a training of this model was interrupted (its staging folder holds a key)."""
    return (paths.run_dir(model) / ".training" / "key.json").exists()


def check_external_weights(args) -> None:
    """Every --checkpoint-* is a loadable weights file, checked for both models before any work."""
    for model in MODELS:
        external = getattr(args, f"checkpoint_{model}")
        if external is None:
            continue
        path = Path(external)
        if path.is_dir():
            raise ConfigError(f"--checkpoint-{model} {external} is a folder: give the weights file inside it")
        if not path.is_file():
            raise ConfigError(f"--checkpoint-{model} {external}: no such file")
        from pipeline.checkpoint import load_weights_file
        from pipeline.model import build_model

        load_weights_file(path, build_model(), expect=run_config(args.profile, model))


def choose_device(args, cfg: RunConfig):
    """The device of a training: --device, else CUDA when there is one; the paper profile on a CPU
    only when asked. `args`: the command line, or a cell's RunOptions (commands/cellrun.py)."""
    import torch

    from pipeline.device import resolve_device
    from pipeline.train import estimate_cpu_hours

    if args.device or torch.cuda.is_available():
        return resolve_device(args.device)
    if cfg.profile == "paper":
        precision = run_precision(args)
        raise ConfigError(
            f"training the paper profile needs a CUDA GPU (no frozen results in {shown(workspace.FROZEN / cfg.profile)}; "
            f"about {estimate_cpu_hours(cfg, precision):.0f} hours per model on two CPU cores "
            f"in {precision}): "
            "use --profile cpu-study here (make demo), or run it as a GPU job (python build.py bundle, "
            "gpu/README.md) and import what it returns; --device cpu forces it"
        )
    return torch.device("cpu")


def trained_here(run_dir: Path) -> bool:
    """Whether a training of this machine finished in run_dir (an interrupted one leaves .training/)."""
    return (run_dir / "checkpoint.pt").exists() and not (run_dir / ".training").exists()


def frozen_cell(paths: Paths, name: str) -> RunFiles | None:
    """The frozen predictions and history of one of the grid's other runs, if they are frozen."""
    folder = workspace.FROZEN / paths.profile / "runs" / name
    files = RunFiles(folder / "predictions.npz", folder / "history.json", source="frozen")
    return files if files.eval.is_file() and files.history.is_file() else None


def cells_to_train(args, paths: Paths) -> list[Cell]:
    """The grid's runs this build trains (or resumes, or brings up to date): each primary model
    neither given with --checkpoint-* nor frozen, and with --train-missing each other run that is
    not frozen or was trained (or begun) here."""
    todo = []
    for cell in cells(args.profile):
        if cell.primary:
            given = getattr(args, f"checkpoint_{cell.model}") is not None
            if not given and not uses_frozen(cell.model, args, paths):
                todo.append(cell)
        elif args.train_missing:
            ours = trained_here(paths.run_dir(cell.name)) or interrupted(paths, cell.name)
            if ours or frozen_cell(paths, cell.name) is None:
                todo.append(cell)
    return todo
