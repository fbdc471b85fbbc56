"""Both runs' files read and analysed into the numbers of results.json: the build's analyse stage,
and import, which analyses what a GPU job returned before freezing it."""

from __future__ import annotations

from dataclasses import replace

from commands import workspace
from commands.workspace import RunFiles, shown
from pipeline.config import AnalysisConfig, run_config
from pipeline.stages import file_digest


def analyse_files(runs: dict[str, RunFiles], cfg: AnalysisConfig, profile: str) -> dict:
    """Read both runs' files and analyse them; the inputs' digests travel with the results."""
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
    return results


def analysis_config() -> AnalysisConfig:
    """The study's analysis settings, with the failure cases listed in assets/cases.yaml."""
    from report.cases import load_case_ids

    return replace(AnalysisConfig(), case_ids=load_case_ids(workspace.CASES))
