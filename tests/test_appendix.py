"""The appendix's settings table: each setting's note comes from its config field."""

from __future__ import annotations

import dataclasses

from pipeline.config import DataConfig, TrainConfig, run_config, to_dict
from report.appendix import PRECISION_NOTE, setting_notes, settings_rows


def test_every_config_field_carries_a_note():
    for part in (DataConfig, TrainConfig):
        for field in dataclasses.fields(part):
            assert field.metadata.get("note", "").strip(), f"{part.__name__}.{field.name} has no note"


def test_the_settings_table_prints_each_fields_note_beside_its_value():
    configs = {m: to_dict(run_config("smoke", m)) for m in ("baseline", "cutmix")}
    rows = {row["name"]: row for row in settings_rows(configs)}
    assert rows["train.lr"]["note"] == "initial learning rate"
    assert rows["data.val_size"]["note"] == "validation images held out of the official training set"
    assert rows["precision"]["note"] == PRECISION_NOTE and rows["precision"]["baseline"] == "not recorded"
    assert set(setting_notes()) == set(rows)


def test_a_setting_an_older_run_recorded_but_this_code_lacks_has_no_note():
    configs = {m: to_dict(run_config("smoke", m)) for m in ("baseline", "cutmix")}
    configs["baseline"]["train"]["warmup"] = 5
    rows = {row["name"]: row for row in settings_rows(configs)}
    assert rows["train.warmup"]["note"] == "" and rows["train.warmup"]["differs"]
