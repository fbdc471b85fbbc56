"""Templates: no number typed by hand, strict about undefined names, escaped; the filters; and the
sentences whose wording must follow the data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from jinja2 import UndefinedError

from report import filters as f
from report.assets import REFERENCES_YAML, REPORT_YAML, ReportMetaError, load_references, load_report_meta
from report.context import MEMORISED_GAP, build_context
from report.render import CASES, TEMPLATES, environment, render_html
from tests.fixtures.make_fixture import fixture_checks, fixture_results

# --- the no-typed-number lint ------------------------------------------------------------------

STRIP = [
    re.compile(r"\{#.*?#\}", re.S),  # Jinja comments
    re.compile(r"\{\{.*?\}\}", re.S),  # expressions: claims, loop indices, filter arguments
    re.compile(r"\{%.*?%\}", re.S),  # tags
    re.compile(r"<style\b.*?</style>", re.S | re.I),  # CSS
    re.compile(r"<script\b.*?</script>", re.S | re.I),
    re.compile(r"<[^>]*>", re.S),  # HTML tags and their attributes
]


def typed_digits(text: str) -> list[tuple[int, str]]:
    """(line, context) of every digit left once markup, CSS and Jinja are stripped."""
    for pattern in STRIP:  # keep line numbers: replace each match by its own newlines
        text = pattern.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    hits = []
    for number, line in enumerate(text.splitlines(), start=1):
        for m in re.finditer(r"\d+(?:[.,]\d+)*", line):
            hits.append((number, line[max(0, m.start() - 30) : m.end() + 30].strip()))
    return hits


def templates() -> list[Path]:
    found = sorted(TEMPLATES.rglob("*.html"))
    assert found, f"no templates under {TEMPLATES}"
    return found


@pytest.mark.parametrize("path", templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_number_typed_into_a_template(path):
    hits = typed_digits(path.read_text(encoding="utf-8"))
    assert not hits, f"{path.name}: numbers typed by hand (use a claim or the context): " + "; ".join(
        f"line {n}: {ctx!r}" for n, ctx in hits
    )


def test_lint_finds_a_typed_number_and_ignores_markup():
    assert typed_digits("<p>Test accuracy: 60.69%</p>") == [(1, "Test accuracy: 60.69%")]
    assert len(typed_digits("<p>3,931 of 10,000</p>")) == 2
    clean = '<h2 style="margin: 2px">{{ claim("a.b_99") }} {% if x > 3 %}ok{% endif %}{# 42 #}</h2>'
    assert typed_digits(clean + "<style>p { width: 50% }</style>") == []


# --- Jinja: strict and escaped ------------------------------------------------------------------


def test_strict_undefined_fails_on_a_missing_name():
    env = environment()
    with pytest.raises(UndefinedError):
        env.from_string("{{ no_such_name }}").render()
    with pytest.raises(UndefinedError):
        env.from_string("{{ claims['absent'] | claim_text }}").render(claims={})


def test_a_missing_claim_fails_the_render():
    results = fixture_results()
    del results["claims"]["baseline.test_accuracy"]
    with pytest.raises(UndefinedError):
        render_html(build_context(results, [], CASES))


def test_text_is_escaped():
    html = render_html(build_context(fixture_results(), [], {3640: {"hypothesis": "a <b>bold</b> guess"}}))
    assert "a &lt;b&gt;bold&lt;/b&gt; guess" in html and "<b>bold</b>" not in html


# --- filters ------------------------------------------------------------------------------------


def test_filters():
    assert f.pct(60.69) == "60.69%"
    assert f.pct(39.312, 1) == "39.3%"
    assert f.points(15.01) == "+15.01\u00a0pts"
    assert f.points(-2) == "\u22122.00\u00a0pts"
    assert f.points(0) == "0.00\u00a0pts"
    assert f.thousands(3931) == "3,931"
    assert f.thousands(-1501, signed=True) == "\u22121,501"
    assert f.thousands(1501, signed=True) == "+1,501"
    assert f.words(2) == "two" and f.words(0) == "zero" and f.words(1501) == "1,501"
    assert f.conf(95.93) == "95.9%" and f.conf(99.98) == "99.98%" and f.conf(100.0) == "100.0%"
    assert f.fraction_pct(0.9) == "90%"
    assert f.relchange(86.03) == "\u221286%"
    assert f.pvalue(0.0231) == "p = 0.023"
    assert f.pvalue(1.6e-224) == "p = 1.6 × 10⁻²²⁴"
    assert f.sci(5e-4) == "5 × 10⁻⁴" and f.sci(0.1) == "0.1"
    assert f.join_and([25, 40]) == "25 and 40" and f.join_and(["a", "b", "c"]) == "a, b and c"
    assert f.label("maple_tree") == "maple tree"
    assert f.value(None) == "—" and f.value([1, 2]) == "1, 2" and f.value(True) == "yes"
    assert f.pct(None) == f.MISSING and f.num(float("nan")) == f.MISSING


def test_claims_are_formatted_by_unit():
    assert f.claim_text({"value": 60.69, "unit": "percent"}) == "60.69%"
    assert f.claim_text({"value": -1501, "unit": "count"}) == "\u22121,501"
    assert f.claim_text({"value": "oak_tree", "unit": "class"}) == "oak tree"
    assert f.claim_text({"value": 2, "unit": "count"}, "words") == "two"
    with pytest.raises(TypeError):
        f.claim_text(60.69)


# --- wording that follows the data ---------------------------------------------------------------


def render(results=None, checks=None, cases=CASES) -> str:
    return render_html(build_context(results or fixture_results(), checks, cases))


def claim_spans(html: str) -> dict[str, str]:
    return dict(re.findall(r'<span class="claim" data-claim="([^"]+)">(.*?)</span>', html))


def test_banner_for_synthetic_or_smoke_and_none_for_the_study():
    results = fixture_results()
    assert results["data_source"] == "synthetic"
    assert "These are not the study's numbers" in render(results)
    results["data_source"] = "cifar-100"
    assert "These are not the study's numbers" not in render(results)
    results["profile"] = "smoke"
    results["provenance"]["baseline"]["config"]["train"]["epochs"] = 2
    results["provenance"]["baseline"]["config"]["data"]["train_subset"] = 1000
    html = render(results)
    assert "These are not the study's numbers" in html
    assert "trained on 1,000 of the 45,000 training images; 2 epochs instead of 50" in html


def test_banner_lists_every_way_the_cpu_study_differs():
    """Page 1 names the subset, the epochs, the schedule, the augmentation and the hardware."""
    results = fixture_results()
    results["data_source"], results["profile"] = "cifar-100", "cpu-study"
    prov = results["provenance"]["baseline"]
    prov["config"]["data"]["train_subset"] = 8000
    prov["config"]["train"] |= {"epochs": 20, "milestones": [10, 16], "augment": False}
    prov |= {"device": "cpu", "precision": "bf16"}
    html = render(results)
    banner = html[html.index('<aside class="banner"') : html.index("</aside>")]
    for phrase in (
        "<code>cpu-study</code> profile",
        "trained on 8,000 of the 45,000 training images",
        "20 epochs instead of 50",
        "learning-rate drops after epochs 10 and 16 instead of epochs 25 and 40",
        "no random crop or flip",
        "run on a CPU",
        "in bf16 arithmetic",
    ):
        assert phrase in banner, phrase
    assert "Augmentation: none (no random crop or flip" in html
    assert re.search(r"<code>precision</code>.*?bf16", html)


def test_memorised_only_when_the_gap_is_large():
    results = fixture_results()
    assert "basically memorised" in render(results)
    results["claims"]["baseline.train_val_gap"]["value"] = MEMORISED_GAP - 5
    html = render(results)
    assert "basically memorised" not in html and "did not simply memorise" in html


def test_class_counts_and_regressed_classes_come_from_results():
    html = render()
    assert re.search(r">98</span> out of 100 classes got better or stayed the same", html)
    assert "Only oak tree" in html and "maple tree" in html
    results = fixture_results()
    results["tables"]["regressed_classes"] = []
    assert "None dipped." in render(results)


def test_fixed_cases_in_words():
    html = render()
    assert "Two of these (IDs 2372 and 5864) get fixed later by CutMix" in html
    results = fixture_results()
    for row in results["tables"]["cases"]:
        if row["id"] == 5864:
            row.update(status="still_wrong", cutmix_prediction="plain", confidence_change=-50.3)
    assert "One of these (ID 2372) gets fixed later by CutMix" in render(results)


def test_hypotheses_from_cases_yaml_or_none_recorded():
    html = render(cases={3640: {"hypothesis": "Gravel everywhere."}})
    assert "Gravel everywhere." in html and "no hypothesis recorded" in html
    assert "no hypothesis recorded" not in render()


def test_cases_not_evaluated_or_not_failures():
    results = fixture_results()
    cases = results["tables"]["cases"]
    cases[0].update(
        status="not_evaluated", evaluated=False, baseline_prediction=None, baseline_confidence=None
    )
    for key in [k for k in results["claims"] if k.startswith(f"case.{cases[0]['id']}.")]:
        del results["claims"][key]
    cases[1].update(status="not_a_baseline_failure")
    html = render(results)
    assert "not evaluated" in html and "Not a failure here" in html


def test_checks_table_or_not_checked():
    assert "Not checked" in render(checks=[])
    html = render(checks=fixture_checks())
    assert "Not checked" not in html and 'class="verdict-pass"' in html


def test_every_claim_span_names_a_claim():
    results = fixture_results()
    spans = claim_spans(render(results))
    assert len(spans) > 80
    assert set(spans) <= set(results["claims"])
    assert spans["baseline.test_accuracy"] == "60.69%"


def test_page_one_says_which_statements_hold_in_this_setting():
    checks = fixture_checks()
    statements = [r for r in checks if r.get("where") == "predicate"]
    statements[0]["verdict"] = "fail"
    html = render(fixture_results(), checks)
    finding = html[html.index('class="scale-finding"') :]
    finding = finding[: finding.index("</p>")]
    held, failed = finding.split("This does not:")
    assert str(statements[0]["stated"]) not in held and str(statements[0]["stated"]) in failed
    assert all(str(r["stated"]) in held for r in statements[1:])
    fixture = fixture_results()
    fixture["data_source"] = "cifar-100"  # the study's own build: no such paragraph
    assert "scale-finding" not in render(fixture, checks)


def test_wording_rules_follow_the_cpu_studys_numbers():
    """Sentences that read oddly on real CPU-study numbers follow the numbers instead."""
    results = fixture_results()
    claims = results["claims"]
    html = render(results)
    assert "confidence on <em>correct</em> predictions stays high" in html and "pts</span> jump" in html
    claims["cutmix.mean_confidence_correct"]["value"] = (
        claims["baseline.mean_confidence_correct"]["value"] - 20
    )
    claims["compare.accuracy_delta"]["value"] = 2.78
    claims["baseline.attention_entropy_wrong"]["value"] = (
        claims["baseline.attention_entropy"]["value"] - 0.002
    )
    html = render(results)
    assert "stays high" not in html and "less sure of its <em>correct</em> predictions too" in html
    assert "pts</span> gain" in html and "about as focused as the rest" in html
    for m in ("baseline", "cutmix"):
        results["provenance"][m]["device"] = "cpu"
        results["provenance"][m]["config"]["train"]["augment"] = False
    html = render(results)
    assert ", deterministic cuDNN." not in html and "Seed 42, trained on a CPU." in html
    assert "weaker than the study's on purpose" in html and "isn't a deliberately weak baseline" not in html


def test_claim_names_wrap_at_the_dots_and_figures_open_full_size_only_on_the_site():
    assert str(f.dotbreak("case.1214.<b>")) == "case.<wbr>1214.<wbr>&lt;b&gt;"
    site = render(fixture_results(), fixture_checks())
    assert "<code>baseline.<wbr>test_accuracy</code>" in site
    assert '<a class="figure-full" href="figures/training_baseline.svg"' in site
    context = build_context(fixture_results(), fixture_checks(), CASES)
    pdf_html = render_html({**context, "for_site": False})
    assert "figure-full" not in pdf_html and '<img src="figures/training_baseline.svg"' in pdf_html


def test_citations_link_to_the_reference_list():
    html = render(fixture_results(), fixture_checks())
    cited = re.findall(r'<a class="cite" href="#ref-(\w+)">([^<]+)</a>', html)
    listed = set(re.findall(r'<li id="ref-(\w+)">', html))
    assert {key for key, _ in cited} == listed == {"guo", "geifman", "yun"}
    assert ("yun", "Yun et al., 2019") in cited


# --- report.yaml and references.yaml: untrusted text ------------------------------------------


def _yaml_copy(tmp_path: Path, source: Path, change) -> Path:
    """source (an assets/ YAML file) loaded, changed in place by change(doc), written to tmp_path."""
    doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / source.name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
     "data:text/html,<script>alert(1)</script>", "vbscript:x", "/etc/passwd", "//example.org/x", "https://",
     "https://[::1", "doi:javascript:alert(1)"],
)  # fmt: skip
def test_a_reference_linking_elsewhere_than_the_web_or_a_doi_is_one_line(tmp_path, url):
    path = _yaml_copy(tmp_path, REFERENCES_YAML, lambda doc: doc["guo"].update(url=url))
    with pytest.raises(ReportMetaError, match="entry 'guo' links to .*neither the web nor a DOI") as err:
        load_references(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_reference_links_to_its_web_address_or_its_doi_through_the_resolver(tmp_path):
    def change(doc):
        doc["guo"]["url"] = "10.48550/arXiv.1706.04599"
        doc["yun"]["url"] = "doi:10.1109/ICCV.2019.00612"

    refs = load_references(_yaml_copy(tmp_path, REFERENCES_YAML, change))
    assert refs["guo"]["url"] == "https://doi.org/10.48550/arXiv.1706.04599"
    assert refs["yun"]["url"] == "https://doi.org/10.1109/ICCV.2019.00612"
    assert refs["geifman"]["url"] == "https://arxiv.org/abs/1705.08500"


def test_the_committed_report_yaml_and_references_are_within_their_limits():
    assert load_report_meta()["title"] and len(load_references()) == 3


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d.update(title="T" * 201), "'title' is 201 characters, over the limit of 200"),
        (lambda d: d.update(title="T" * 2**20), "'title' is 1,048,576 characters, over the limit of 200"),
        (lambda d: d.update(subtitle="S" * 301), "'subtitle' is 301 characters, over the limit of 300"),
        (lambda d: d.update(study="S" * 201), "'study' is 201 characters"),
        (lambda d: d.update(subject="S" * 501), "'subject' is 501 characters"),
        (lambda d: d.update(authors=["a"] * 51), "'authors' has 51 entries, over the limit of 50"),
        (lambda d: d["authors"].append("A" * 201), "an entry of 'authors' is 201 characters"),
        (lambda d: d.update(keywords=["k"] * 31), "'keywords' has 31 entries, over the limit of 30"),
        (lambda d: d["keywords"].append("K" * 81), "an entry of 'keywords' is 81 characters"),
    ],
    ids=["title", "huge-title", "subtitle", "study", "subject", "authors", "author", "keywords", "keyword"],
)
def test_a_report_yaml_field_over_its_limit_is_one_line(tmp_path, change, says):
    path = _yaml_copy(tmp_path, REPORT_YAML, change)
    with pytest.raises(ReportMetaError, match=says) as err:
        load_report_meta(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("field", "size"), [("cited", 101), ("authors", 1001), ("year", 21), ("title", 301), ("venue", 301)]
)
def test_a_reference_field_over_its_limit_is_one_line(tmp_path, field, size):
    path = _yaml_copy(tmp_path, REFERENCES_YAML, lambda doc: doc["yun"].update({field: "x" * size}))
    with pytest.raises(ReportMetaError, match=f"field '{field}' of entry 'yun' is {size:,} characters"):
        load_references(path)
