"""Both runs' files read and analysed into the numbers of results.json: the build's analyse stage,
and import, which analyses what a GPU job returned before freezing it."""

from __future__ import annotations

from dataclasses import replace

from commands import workspace
from commands.workspace import RunFiles, shown
from pipeline.config import AnalysisConfig, run_config
from pipeline.stages import file_digest


def analyse_files(
    runs: dict[str, RunFiles], cfg: AnalysisConfig, profile: str, others: dict[str, RunFiles] | None = None
) -> dict:
    """Read both runs' files, and the grid's other runs' (by name), and analyse them; the inputs'
    digests travel with the results."""
    from pipeline.analysis import analyse
    from pipeline.evalfile import check_comparable, load_eval
    from pipeline.historyfile import load_history

    evals = {m: load_eval(r.eval) for m, r in runs.items()}
    check_comparable(evals, {m: r.eval for m, r in runs.items()})
    history = {m: load_history(r.history) for m, r in runs.items()}
    milestones = list(run_config(profile, "baseline").train.milestones)
    results = analyse(evals["baseline"], evals["cutmix"], history, cfg, profile, milestones)
    results["inputs"] = {
        m: {"eval": file_digest(r.eval), "history": file_digest(r.history)} for m, r in runs.items()
    }
    results["sources"] = {m: r.source for m, r in runs.items()}
    results["files"] = {m: {"eval": shown(r.eval), "history": shown(r.history)} for m, r in runs.items()}
    rows, tables, histories = grid_results(evals, history, others or {}, cfg, profile)
    results["runs"], results["tables"] = rows, results["tables"] | tables
    results["series"]["runs"] = histories  # every run's epochs, for the curves of the ablation
    if others:  # the grid's other runs: their files, as the primary pair's above
        results["inputs"]["runs"] = digests(others)
        results["run_files"] = {
            n: {"eval": shown(r.eval), "history": shown(r.history)} for n, r in others.items()
        }
        results["run_sources"] = {n: r.source for n, r in others.items()}
    return results


def grid_results(
    evals: dict[str, dict],
    history: dict[str, list],
    others: dict[str, RunFiles],
    cfg: AnalysisConfig,
    profile: str,
) -> tuple[list[dict], dict, dict[str, list]]:
    """The rows of results.json's `runs` (one per run of the grid that is there), the tables of the
    seeds and the ablation, and every run's epochs by its name."""
    from pipeline.grid import ABLATION, cells
    from pipeline.historyfile import load_history
    from pipeline.predictions import check_same_images, load_predictions, predictions_of
    from pipeline.seeds import ablation, run_row, seed_gains, seed_spread

    rows, histories = [], {}
    for cell in cells(profile):
        if cell.primary:
            predictions, epochs = predictions_of(evals[cell.model]), history[cell.model]
        elif cell.name in others:
            files = others[cell.name]
            predictions, epochs = load_predictions(files.eval), load_history(files.history)
            check_same_images(predictions, evals["baseline"], files.eval)
        else:
            continue
        identity = {"name": cell.name, "model": cell.model, "seed": cell.seed, "variant": cell.variant}
        rows.append(run_row(identity, predictions, epochs, cfg))
        histories[cell.name] = epochs
    tables = {
        "seed_spread": seed_spread(rows),
        "seed_gains": seed_gains(rows),
        "ablation": ablation(rows, histories, *ABLATION),
    }
    return rows, tables, histories


def digests(others: dict[str, RunFiles]) -> dict:
    return {
        n: {"eval": file_digest(r.eval), "history": file_digest(r.history)} for n, r in sorted(others.items())
    }


def analysis_config() -> AnalysisConfig:
    """The study's analysis settings, with the failure cases listed in assets/cases.yaml."""
    from report.cases import load_case_ids

    return replace(AnalysisConfig(), case_ids=load_case_ids(workspace.CASES))
