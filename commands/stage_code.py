"""The code each stage's cache key hashes, beside its config and input files (pipeline/stages.py).

A stage runs again when one of its files changes; tests/test_stages.py keeps these lists in step
with what each stage's entry point imports.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.project import ROOT

# The code each stage's key hashes, beside its config and input files (pipeline/stages.py).
CODE = {
    "train": [
        "pipeline/" + f
        for f in (
            "config.py",
            "data.py",
            "model.py",
            "augment.py",
            "train.py",
            "checkpoint.py",
            "precision.py",
        )
    ],
    "evaluate": [
        "pipeline/" + f
        for f in (
            "config.py",
            "data.py",
            "model.py",
            "evaluate.py",
            "evalfile.py",
            "gradcam.py",
            "precision.py",
            "checkpoint.py",
            "cases.py",
            "scores.py",
        )
    ],
    "analyse": [
        "pipeline/" + f
        for f in (
            "config.py",
            "analysis.py",
            "evalfile.py",
            "npzfile.py",
            "jsonfile.py",
            "historyfile.py",
            "scores.py",
            "cases.py",
            "identities.py",
            "metrics/__init__.py",
            "metrics/calibration.py",
            "metrics/selective.py",
            "metrics/stats.py",
            "metrics/migration.py",
            "metrics/confusions.py",
            "metrics/attention.py",
        )
    ]
    + ["report/cases.py", "report/yamlfile.py"],
    "check": [
        "report/claims.py",
        "report/yamlfile.py",
        "pipeline/evalfile.py",
        "pipeline/npzfile.py",
        "pipeline/jsonfile.py",
        "pipeline/printable.py",
    ],
    "figures": [
        "report/figures/__init__.py",
        "report/figures/registry.py",
        "report/figures/study.py",
        "report/figures/beyond.py",
        "report/figures/panels.py",
        "report/figures/cam.py",
        "report/figures/style.py",
        "report/figures/arrays.py",
        "report/filters.py",
        "report/figures/svg.py",
        "report/figures/drawing.py",
        "report/outline.py",
        "pipeline/config.py",
    ],
    "render": [
        "report/publish.py",
        "report/render.py",
        "report/context.py",
        "report/outline.py",
        "report/assets.py",
        "report/appendix.py",
        "report/filters.py",
        "report/claims.py",
        "report/yamlfile.py",
        "pipeline/evalfile.py",
        "pipeline/npzfile.py",
        "pipeline/jsonfile.py",
        "pipeline/printable.py",
        "report/differences.py",
        "pipeline/config.py",
        "templates",
        "assets",
    ],
}


# Each stage's entry point, whose imports (within pipeline/ and report/) CODE must list; a test
# keeps the two in step. These modules move files, report errors and end workers but shape no output:
STAGE_ENTRY = {
    "analyse": ["pipeline.analysis", "pipeline.evalfile", "pipeline.historyfile", "report.cases"],
    "check": ["report.claims"],
    "figures": ["report.figures.drawing", "report.figures.registry"],
    "render": ["report.publish"],
}


SHAPES_NO_OUTPUT = [
    "pipeline/errors.py",
    "pipeline/files.py",
    "pipeline/leftovers.py",
    "pipeline/outputerror.py",
    "pipeline/project.py",
    "pipeline/parentdeath.py",
]


def code_paths(stage: str) -> list[Path]:
    return [ROOT / p for p in CODE[stage]]
