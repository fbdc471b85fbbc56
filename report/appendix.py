"""The appendix's tables, for the templates: each model's settings with what each means, the
runs' provenance, and the claim checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from pipeline.config import MODELS, DataConfig, TrainConfig, flatten, run_config, to_dict

# The settings table's parts of a config, and what the one setting outside them means.
SETTING_PARTS = {"data": DataConfig, "train": TrainConfig}
PRECISION_NOTE = "arithmetic of training and evaluation (bf16: autocast, logits kept in fp32)"

NOT_RECORDED = "not recorded"


def run_configs(results: dict) -> dict[str, dict]:
    """Each model's config as recorded in its provenance, or the profile's defaults when missing."""
    configs = {}
    for m in MODELS:
        recorded = results.get("provenance", {}).get(m, {}).get("config")
        configs[m] = recorded if recorded else to_dict(run_config(results["profile"], m))
    return configs


def setting_notes() -> dict[str, str]:
    """{dotted setting name: what it means}, from the note on each config field (pipeline/config.py)."""
    notes = {
        f"{part}.{f.name}": f.metadata["note"]
        for part, config in SETTING_PARTS.items()
        for f in dataclasses.fields(config)
    }
    return {**notes, "precision": PRECISION_NOTE}


def settings_rows(configs: dict[str, dict], provenance: Mapping | None = None) -> list[dict]:
    """The settings table: each config field, then the precision the provenance records."""
    flat = {m: flatten({k: v for k, v in configs[m].items() if k in SETTING_PARTS}) for m in MODELS}
    for m in MODELS:
        flat[m]["precision"] = ((provenance or {}).get(m) or {}).get("precision", NOT_RECORDED)
    names = list(dict.fromkeys(k for m in MODELS for k in flat[m]))
    notes = setting_notes()
    return [
        {
            "name": name,
            "note": notes.get(name, ""),
            "baseline": flat["baseline"].get(name),
            "cutmix": flat["cutmix"].get(name),
            "differs": flat["baseline"].get(name) != flat["cutmix"].get(name),
        }
        for name in names
    ]


PROVENANCE_FIELDS = (  # (label, key in the provenance record)
    ("git commit", "git_commit"),
    ("uncommitted changes", "git_dirty"),
    ("config hash", "config_hash"),
    ("split hash", "split_hash"),
    ("data source", "data_source"),
    ("device", "device"),
    ("seed", "seed"),
    ("run made (UTC)", "created"),
)


def provenance_rows(results: dict) -> list[dict]:
    prov = results.get("provenance", {})
    rows = [
        {
            "field": "profile",
            **{m: (prov.get(m, {}).get("config") or {}).get("profile", results["profile"]) for m in MODELS},
        }
    ]
    for label, key in PROVENANCE_FIELDS:
        rows.append({"field": label, **{m: prov.get(m, {}).get(key, NOT_RECORDED) for m in MODELS}})
    libraries = list(dict.fromkeys(k for m in MODELS for k in (prov.get(m, {}).get("versions") or {})))
    for lib in libraries:
        rows.append(
            {
                "field": lib,
                **{m: (prov.get(m, {}).get("versions") or {}).get(lib, NOT_RECORDED) for m in MODELS},
            }
        )
    return rows


def check_rows(checks: list[dict]) -> dict[str, list[dict]]:
    """The claim checks split for printing: stated numbers, statements in words (predicates).

    Identity rows are left out: the identities table prints them from results.json.
    """
    return {
        "numbers": [r for r in checks if r.get("where") not in ("predicate", "identity")],
        "statements": [r for r in checks if r.get("where") == "predicate"],
    }
