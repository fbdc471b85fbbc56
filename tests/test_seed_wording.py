"""The report's seed spread and ablation: where the ranges appear, and the words chosen from them
(report/seeds.py), on the fixture's 3-seed grid and on grids changed to break each rule."""

from __future__ import annotations

import re

import pytest

from pipeline.seeds import ablation, seed_gains, seed_spread
from report import filters as f
from report.context import MEMORISED_GAP
from report.seeds import verdict
from tests.fixtures.make_fixture import fixture_checks, fixture_results
from tests.test_templates import render


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def section(html: str, start: str, end: str) -> str:
    return text(html[html.index(f'id="{start}"') : html.index(f'id="{end}"')])


def regrid(results: dict, rows: list[dict]) -> dict:
    """The results with the grid's runs replaced by `rows`, and the tables made from them again."""
    histories = results["series"]["runs"]
    results["runs"] = rows
    results["tables"] |= {
        "seed_spread": seed_spread(rows),
        "seed_gains": seed_gains(rows),
        "ablation": ablation(rows, histories, "augmented-baseline", 42),
    }
    return results


def test_ranges_follow_the_primary_numbers_in_sections_3_and_6_and_table_2():
    html = render(fixture_results(), fixture_checks())
    results = fixture_results()
    spread = results["tables"]["seed_spread"]
    low, high = spread["baseline"]["test_accuracy"]["min"], spread["baseline"]["test_accuracy"]["max"]
    expected = f"(three seeds: {f.num(low, 1)}–{f.pct(high, 1)})"
    baseline_box = text(html[html.index("Baseline Result") :][:800])
    assert f"Test accuracy: 60.69% {expected}" in baseline_box
    assert "Training hit 99.80% (three seeds: 99.3–99.95%)" in baseline_box  # never rounded up to 100
    cutmix_box = text(html[html.index("CutMix Result") :][:400])
    assert "(three seeds: +13.9 to +15.8 pts)" in cutmix_box
    table2 = html[html.index('id="tab-summary"') :][:4000]
    assert '<span class="spread-below">60.2–61.3%</span>' in table2
    assert '<span class="spread-below">301–330</span>' in table2


def test_one_run_per_model_prints_no_range_and_says_the_spread_is_not_measured():
    results = fixture_results()
    results = regrid(results, [r for r in results["runs"] if r["seed"] == 42 and r["variant"] is None])
    html = render(results, fixture_checks())
    assert "seeds:" not in text(html) and "spread-below" not in html
    words = section(html, "beyond-seeds", "beyond-ablation")
    assert "one run per model, so how much of each number is seed noise is not measured" in words
    assert "This profile's grid has no augmentation ablation" in section(
        html, "beyond-ablation", "beyond-confusions"
    )


def test_the_gain_beyond_seed_noise_needs_enough_seeds_the_same_sign_and_a_small_spread():
    html = render(fixture_results(), fixture_checks())
    words = section(html, "beyond-seeds", "beyond-ablation")
    assert "CutMix is ahead at every seed, by +13.9 to +15.8 pts" in words
    assert "so at this profile's scale the gain is more than seed noise" in words

    results = fixture_results()
    two = regrid(results, [r for r in results["runs"] if r["seed"] != 44])
    words = section(render(two, fixture_checks()), "beyond-seeds", "beyond-ablation")
    assert "two seeds are too few to tell it from seed noise" in words and "more than seed noise" not in words

    results = fixture_results()
    for r in results["runs"]:
        if r["model"] == "cutmix" and r["seed"] == 43:
            r["test_accuracy"] = 60.0  # behind the baseline at seed 43 only
    words = section(
        render(regrid(results, results["runs"]), fixture_checks()), "beyond-seeds", "beyond-ablation"
    )
    assert "The gain changes sign from seed to seed" in words and "cannot be told from seed noise" in words

    results = fixture_results()
    for r in results["runs"]:
        if r["model"] == "cutmix":
            r["test_accuracy"] = {42: 60.8, 43: 68.0, 44: 61.0}[r["seed"]]  # ahead, but widely spread
    words = section(
        render(regrid(results, results["runs"]), fixture_checks()), "beyond-seeds", "beyond-ablation"
    )
    assert "its spread across seeds is large against its mean" in words


def test_the_seed_table_lists_every_seed_and_the_gain():
    html = render(fixture_results(), fixture_checks())
    table = html[html.index('id="tab-seeds"') :][:12000]
    assert all(f"Seed {s}</th>" in table for s in (42, 43, 44))
    assert "+14.90 ± 0.96\u00a0pts" in table and "60.74 ± 0.56%" in table


@pytest.mark.parametrize(
    ("recipe_gap", "variant_gap", "expected", "says"),
    [
        (39.7, 2.6, "augmentation_decides", "consistent with the study's baseline having trained without"),
        (39.7, 30.0, "both_memorise", "memorises with crop and flip too"),
        (5.0, 2.6, "neither_memorises", "Neither run memorises at this scale"),
        (5.0, 30.0, "only_augmented_memorises", "Only the run with crop and flip memorises"),
    ],
)
def test_the_ablation_says_only_what_its_gaps_support(recipe_gap, variant_gap, expected, says):
    results = fixture_results()
    found = results["tables"]["ablation"]
    found["recipe"]["train_val_gap"], found["variant"]["train_val_gap"] = recipe_gap, variant_gap
    assert verdict(found["recipe"], found["variant"], MEMORISED_GAP) == expected
    words = section(render(results, fixture_checks()), "beyond-ablation", "beyond-confusions")
    assert says in words
    if expected != "augmentation_decides":
        assert "consistent with" not in words


def test_the_ablation_quotes_the_studys_split_from_the_claims_ledger():
    words = section(render(fixture_results(), fixture_checks()), "beyond-ablation", "beyond-confusions")
    assert "reports 99.8% train and 60.69% test accuracy" in words
    unchecked = section(render(fixture_results(), None), "beyond-ablation", "beyond-confusions")
    assert "near-total train accuracy for it, far above its test accuracy" in unchecked


def test_spans_and_means_are_written_by_unit():
    assert f.span({"min": 28.0, "max": 29.41}, "percent") == "28.0–29.4%"
    assert f.span({"min": 99.32, "max": 99.95}, "percent") == "99.3–99.95%"
    assert f.span({"min": 1.84, "max": 2.92}, "points") == "+1.8 to +2.9\u00a0pts"
    assert f.span({"min": 0, "max": 0}, "count") == "all 0" and f.span(None, "count") == "n/a"
    assert f.mean_sd({"mean": 116.33, "sd": 17.6}, "count") == "116.3 ± 17.6"
    assert f.mean_sd({"mean": 2.513, "sd": 0.587}, "points") == "+2.51 ± 0.59\u00a0pts"
    assert f.mean_sd({"mean": 28.5, "sd": None}, "percent") == "28.50%"
