"""The code each stage's cache key hashes, beside its config and input files (pipeline/stages.py).

A stage runs again when one of its files changes; tests/test_stages.py keeps these lists in step
with what each stage's entry point imports.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.project import ROOT

# What more than one stage reads its inputs with: the evaluation and history files, and the claims.
DATA_CODE = ["pipeline/" + f for f in ("config.py", "data.py", "safepickle.py", "digests.py", "model.py")]
EVAL_READERS = ["pipeline/" + f for f in ("evalfile.py", "npzfile.py", "jsonfile.py", "printable.py")]
CLAIMS_READERS = ["report/claims.py", "report/yamlfile.py"]

# The code each stage's key hashes, beside its config and input files (pipeline/stages.py).
CODE = {
    "train": DATA_CODE
    + [
        "pipeline/" + f
        for f in ("augment.py", "train.py", "checkpoint.py", "precision.py", "provenance.py", "jsonfile.py")
    ],
    "evaluate": DATA_CODE
    + EVAL_READERS
    + [
        "pipeline/" + f
        for f in (
            "evaluate.py",
            "gradcam.py",
            "precision.py",
            "checkpoint.py",
            "provenance.py",
            "device.py",
            "cases.py",
            "scores.py",
            "stages.py",
        )
    ],
    "analyse": EVAL_READERS
    + [
        "pipeline/" + f
        for f in (
            "config.py",
            "analysis.py",
            "historyfile.py",
            "scores.py",
            "cases.py",
            "identities.py",
            "grid.py",
            "seeds.py",
            "predictions.py",
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
    "compact": EVAL_READERS + ["pipeline/predictions.py", "pipeline/scores.py"],
    "check": CLAIMS_READERS + EVAL_READERS,
    "figures": [
        "report/figures/" + f
        for f in (
            "__init__.py",
            "registry.py",
            "study.py",
            "beyond.py",
            "panels.py",
            "cam.py",
            "style.py",
            "arrays.py",
            "svg.py",
            "drawing.py",
            "grid.py",
        )
    ]
    + ["report/filters.py", "report/outline.py", "pipeline/config.py", "pipeline/grid.py"],
    "render": CLAIMS_READERS
    + EVAL_READERS
    + [
        "report/" + f
        for f in (
            "publish.py",
            "render.py",
            "context.py",
            "outline.py",
            "assets.py",
            "appendix.py",
            "filters.py",
            "differences.py",
            "seeds.py",
        )
    ]
    + ["pipeline/config.py", "pipeline/grid.py", "templates", "assets"],
}


# Each stage's entry point, whose imports (within pipeline/ and report/) CODE must list; a test
# keeps the two in step. These modules move files, report errors and end workers but shape no output:
STAGE_ENTRY = {
    "train": ["pipeline.train"],
    "evaluate": ["pipeline.evaluate"],
    "compact": ["pipeline.predictions"],
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
