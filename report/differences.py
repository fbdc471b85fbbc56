"""How a build differs from the study: the settings and the hardware, as phrases for page 1.

A profile other than the paper's is the study's config with a few overrides (pipeline/config.py);
the banner must say exactly which, so they are found by comparing the run's recorded config with
the paper profile's, field by field, not written by hand per profile. The hardware and the
arithmetic come from the provenance: the study trained on a GPU (seed, Reproducibility), with the
precision it does not state.
"""

from __future__ import annotations

from typing import Any

from pipeline.config import flatten, run_config, to_dict
from report.filters import join_and, thousands

STUDY_PROFILE = "paper"
OFFICIAL = {"training": 45_000, "validation": 5_000, "test": 10_000}  # images per split (seed §2)


def _subset(split: str, verb: str) -> Any:
    return lambda n, _: f"{verb} on {thousands(n)} of the {thousands(OFFICIAL[split])} {split} images"


def _epochs(ours: Any, study: Any) -> str:
    return f"{ours} epochs instead of {study}"


def _milestones(ours: Any, study: Any) -> str:
    return f"learning-rate drops after {_epochs_named(ours)} instead of {_epochs_named(study)}"


def _epochs_named(epochs: Any) -> str:
    return f"epoch{'s' if len(epochs) != 1 else ''} {join_and(epochs)}"


def _augment(ours: Any, study: Any) -> str:
    return "no random crop or flip of the training images" if not ours else "random crop and flip"


PHRASES = {  # dotted config field -> phrase(ours, study's)
    "data.train_subset": _subset("training", "trained"),
    "data.val_subset": _subset("validation", "validated"),
    "data.test_subset": _subset("test", "tested"),
    "train.epochs": _epochs,
    "train.milestones": _milestones,
    "train.augment": _augment,
}
IGNORED = {"profile", "model", "data.keep_test_ids"}  # names, and what a subset keeps


def _phrase(name: str, ours: Any, study: Any) -> str:
    if name in PHRASES:
        return PHRASES[name](ours, study)
    return f"{name.split('.')[-1]} {ours} instead of {study}"


def setting_differences(config: dict, model: str = "baseline") -> list[str]:
    """Phrases for each setting of a run's recorded config that is not the study's.

    A field the record lacks (written before the field existed) is taken as the study's value.
    """
    study = flatten(to_dict(run_config(STUDY_PROFILE, model)))
    ours = flatten(config)
    return [
        _phrase(name, ours[name], value)
        for name, value in study.items()
        if name not in IGNORED and name in ours and ours[name] != value
    ]


def hardware_differences(provenance: dict) -> list[str]:
    """ "trained on a CPU", "in bf16 arithmetic": what the provenance says that the study's GPU run was not."""
    out = []
    if provenance.get("device") == "cpu":
        out.append("run on a CPU")
    if provenance.get("precision") == "bf16":
        out.append("in bf16 arithmetic (bf16 autocast; logits kept in fp32)")
    return out


def differences(config: dict, provenance: dict) -> list[str]:
    """Everything page 1 lists for a build whose numbers are not the study's."""
    return setting_differences(config) + hardware_differences(provenance)
