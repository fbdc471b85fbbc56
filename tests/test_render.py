"""Rendering: the golden HTML of the fixture, the site's files and links, the PDF and its parity
with the HTML (every claim printed in the HTML appears, identically, in the PDF's text)."""

from __future__ import annotations

import difflib
import html as html_lib
import os
import re
import shutil
from pathlib import Path

import pytest

from pipeline.files import write_bytes
from report.render import (
    CASES,
    CSS,
    TEMPLATES,
    RenderError,
    build_context,
    render_html,
    render_pdf,
    write_site,
)
from tests.fixtures.make_fixture import fixture_checks, fixture_results, fixture_svgs

GOLDEN_DIR = Path(__file__).parent / "golden"
GOLDEN = GOLDEN_DIR / "report.html"
HISTORY_CLAIMS = (
    "final_train_accuracy",
    "final_val_accuracy",
    "train_val_gap",
    "final_train_loss",
    "final_val_loss",
)


def fixture_html() -> str:
    return render_html(build_context(fixture_results(), fixture_checks(), CASES))


def given_weights_results() -> dict:
    """The fixture as a build with --checkpoint-* of bare state_dicts makes it: no history, weights recorded.

    As pipeline.analysis writes it: empty epoch lists, and None for every claim read from them.
    """
    results = fixture_results()
    for m in ("baseline", "cutmix"):
        results["series"]["history"][m] = []
        for name in HISTORY_CLAIMS:
            results["claims"][f"{m}.{name}"]["value"] = None
        results["provenance"][m] |= {
            "weights": f"/tmp/given/{m}.pth",
            "weights_sha256": f"{ord(m[0]):064x}",
            "weights_given": True,
        }
    results["claims"]["compare.train_val_gap_delta"]["value"] = None
    return results


def assert_golden(html: str, name: str) -> None:
    """html is byte-for-byte tests/golden/<name>; UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN_DIR / name
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        pytest.skip(f"wrote {path}")
    golden = path.read_text(encoding="utf-8")
    if html != golden:
        diff = "".join(
            difflib.unified_diff(
                golden.splitlines(keepends=True), html.splitlines(keepends=True), f"golden/{name}", "rendered"
            )
        )
        pytest.fail(f"the rendered HTML differs from {path} (UPDATE_GOLDEN=1 to accept):\n{diff}")


def test_golden_html():
    assert_golden(fixture_html(), "report.html")


def test_golden_html_of_given_weights():
    """Weights trained elsewhere: the prose asserts nothing about how they were trained."""
    assert_golden(
        render_html(build_context(given_weights_results(), fixture_checks(), CASES)), "given_weights.html"
    )


def test_given_weights_say_what_is_unknown_and_nothing_of_training():
    html = render_html(build_context(given_weights_results(), fixture_checks(), CASES))
    text = re.sub(r"<[^>]+>", "", html)
    for claim in (
        "We trained",
        "Training hit",
        "did not simply memorise",
        "does not rise again",
        "50 epochs",
    ):
        assert claim not in text, claim
    for known in ("trained elsewhere", "/tmp/given/baseline.pth", f"{ord('b'):064x}", "not known"):
        assert known in text, known


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    return write_site(out, fixture_html(), fixture_svgs(), CSS)


def test_site_files_and_relative_links(site):
    html = (site / "index.html").read_text(encoding="utf-8")
    assert (site / "report.css").read_text() == CSS.read_text()
    links = re.findall(r'(?:src|href)="([^"#][^"]*)"', html)
    assert links, "no links"
    cited = set(re.findall(r'<li id="ref-[^"]+">[^<]*<cite>[^<]*</cite>[^<]*<a href="(https://[^"]+)"', html))
    assert len(cited) == 3, "the reference list's entries link their works"
    for link in links:
        if link in cited:
            continue  # a cited work's own address: the only links that leave the site
        assert not re.match(r"^(?:[a-z]+:|/)", link), f"not a relative link: {link}"
        assert (site / link).is_file(), f"broken link: {link}"
    assert sorted(p.name for p in (site / "figures").iterdir()) == sorted(f"{n}.svg" for n in fixture_svgs())
    assert '<meta name="viewport"' in html


def test_figures_have_alt_text_and_numbered_captions(site):
    html = (site / "index.html").read_text(encoding="utf-8")
    figures = re.findall(r"<figure.*?</figure>", html, re.S)
    assert len(figures) == len(fixture_svgs())
    for number, fig in enumerate(figures, start=1):
        assert re.search(r'<img src="figures/\w+\.svg" alt="[^"]{20,}"', fig), fig[:200]
        assert f'<span class="label">Figure {number}.</span>' in fig


def test_tables_have_headers_and_numbered_captions(site):
    html = (site / "index.html").read_text(encoding="utf-8")
    tables = re.findall(r"<table.*?</table>", html, re.S)
    assert len(tables) >= 10
    assert all("<th" in t for t in tables)
    numbers = [int(n) for n in re.findall(r'<span class="label">Table (\d+)\.</span>', html)]
    assert numbers == list(range(1, len(numbers) + 1))


def test_write_site_replaces_the_old_site_whole(tmp_path):
    first = write_site(tmp_path, "<p>one</p>", {"a": "<svg/>"}, CSS)
    second = write_site(tmp_path, "<p>two</p>", {"b": "<svg/>"}, CSS)
    assert first == second == tmp_path / "site"
    assert (second / "index.html").read_text() == "<p>two</p>"
    assert [p.name for p in (second / "figures").iterdir()] == ["b.svg"]
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no temporary folders left behind


def _pdf_text(pdf: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def write_pdf(html: str, pdf_path: Path, figure_svg, css_path: Path = CSS) -> Path:
    """render_pdf, written atomically to pdf_path (as report/publish.py writes it)."""
    write_bytes(pdf_path, render_pdf(html, figure_svg, css_path)[0])
    return pdf_path


@pytest.fixture(scope="module")
def pdf(site, tmp_path_factory) -> Path:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: the Pango/Cairo libraries are missing
        pytest.skip(f"WeasyPrint cannot run here: {exc}")
    html = (site / "index.html").read_text(encoding="utf-8")
    return write_pdf(html, tmp_path_factory.mktemp("pdf") / "report.pdf", fixture_svgs().__getitem__, CSS)


def test_a_figure_the_pdf_cannot_draw_fails_it(tmp_path):
    """WeasyPrint logs a figure it cannot load or draw and leaves it blank: write_pdf refuses."""
    from report.render import PDFError

    svgs = dict(fixture_svgs())
    svgs["gallery"] = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect'  # cut off
    with pytest.raises(PDFError, match="gallery.svg"):
        write_pdf(fixture_html(), tmp_path / "r.pdf", svgs.__getitem__, CSS)
    assert not (tmp_path / "r.pdf").exists()


def test_the_pdf_reads_nothing_outside_the_site(tmp_path):
    from weasyprint.urls import FatalURLFetchingError

    html = '<p>x</p><img src="https://example.org/tracker.png">'
    with pytest.raises(FatalURLFetchingError):
        write_pdf(html, tmp_path / "r.pdf", fixture_svgs().__getitem__, CSS)
    assert not (tmp_path / "r.pdf").exists()


def test_pdf_is_a4_with_page_numbers(pdf):
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    width, height = (float(x) for x in reader.pages[0].mediabox[2:])
    assert abs(width - 595.3) < 1 and abs(height - 841.9) < 1  # A4 in points
    last = len(reader.pages)
    assert f"Page {last} of {last}" in _norm(reader.pages[-1].extract_text())


def test_every_claim_in_the_html_appears_in_the_pdf(site, pdf):
    html = (site / "index.html").read_text(encoding="utf-8")
    spans = re.findall(r'<span class="claim" data-claim="([^"]+)">(.*?)</span>', html, re.S)
    assert len(spans) > 100
    text = _norm(_pdf_text(pdf))
    missing = [(name, value) for name, value in spans if _norm(html_lib.unescape(value)) not in text]
    assert not missing, f"{len(missing)} claims printed in the HTML are not in the PDF: {missing[:10]}"


def test_the_site_carries_its_pdf_and_links_it_with_size_and_pages(tmp_path):
    """report.pdf inside the site (0644), linked under the title with its real size
    and page count; a favicon, a meta description and Open Graph tags."""
    import json

    from pypdf import PdfReader

    from report.publish import publish

    class Svgs:
        def svg(self, name):
            return fixture_svgs()[name]

        def all(self):
            return fixture_svgs()

    (tmp_path / "results.json").write_text(json.dumps(fixture_results()))
    (tmp_path / "checks.json").write_text(json.dumps(fixture_checks()))
    site = publish(
        tmp_path / "results.json", tmp_path / "checks.json", Svgs(), tmp_path / "site", tmp_path / "r.pdf"
    )
    inside = site / "report.pdf"
    assert inside.read_bytes() == (tmp_path / "r.pdf").read_bytes()
    assert inside.stat().st_mode & 0o777 == 0o644 and (site / "favicon.svg").is_file()
    html = (site / "index.html").read_text(encoding="utf-8")
    pages = len(PdfReader(inside).pages)
    link = re.search(
        r'<p class="download"><a href="report.pdf"[^>]*>[^<]+</a> \((\d+) kB, (\d+) pages\)</p>', html
    )
    assert link and int(link.group(2)) == pages and abs(int(link.group(1)) - inside.stat().st_size / 1e3) < 1
    for tag in (
        'name="description"',
        'property="og:title"',
        'property="og:image" content="figures/',
        'rel="icon"',
    ):
        assert tag in html, tag


def test_the_pdf_is_tagged_and_carries_the_metadata_of_report_yaml(pdf):
    """PDF/UA-1 (tagged), with title, authors, subject and keywords from assets/report.yaml."""
    from pypdf import PdfReader

    from report.assets import load_report_meta

    meta, reader = load_report_meta(), PdfReader(pdf)
    info = reader.metadata
    assert bool(reader.trailer["/Root"]["/MarkInfo"]["/Marked"])  # what pdfinfo reports as "Tagged: yes"
    assert info.title.startswith(meta["title"]) and info.author == ", ".join(meta["authors"])
    assert info.subject.startswith(meta["subject"]) and info["/Keywords"] == ", ".join(meta["keywords"])


def test_a_report_that_is_not_the_studys_names_its_profile_in_its_title():
    results = fixture_results()
    results["profile"] = "cpu-study"
    html = render_html(build_context(results, fixture_checks(), CASES))
    assert "<title>Stress-Testing Convolutional Neural Networks (cpu-study profile)</title>" in html
    assert '<span class="profile-tag">(cpu-study profile)</span></h1>' in html  # h1 feeds the running header
    assert "(paper profile)" not in fixture_html()


# --- templates and assets that cannot make the report -------------------------------------------


@pytest.fixture(scope="module")
def context() -> dict:
    return build_context(fixture_results(), fixture_checks(), CASES)


def _templates_with(tmp_path: Path, name: str, line: int, text: str) -> Path:
    """A copy of templates/ with `text` put in as line `line` (1-based) of template `name`."""
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    lines = (folder / name).read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(line - 1, text + "\n")
    (folder / name).write_text("".join(lines), encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", ["report.html", "_sections/_about.html", "_macros.html"])
def test_a_template_syntax_error_is_one_line_naming_the_file_and_line(tmp_path, context, name):
    folder = _templates_with(tmp_path, name, 3, "{% if %}")
    where = re.escape(str(folder / name))
    with pytest.raises(RenderError, match=rf"{where}, line 3: .*fix the template") as err:
        render_html(context, folder)
    assert "\n" not in str(err.value)


def test_a_template_that_includes_a_missing_one_is_one_line(tmp_path, context):
    folder = _templates_with(tmp_path, "report.html", 3, '{% include "_sections/_gone.html" %}')
    with pytest.raises(RenderError, match="has no template '_sections/_gone.html'"):
        render_html(context, folder)


def test_a_citation_that_references_yaml_lacks_is_one_line_naming_the_key(context):
    refs = {key: entry for key, entry in context["refs"].items() if key != "yun"}
    with pytest.raises(RenderError, match=r"references\.yaml has no entry 'yun', which a template cites"):
        render_html({**context, "refs": refs})


OUTSIDE = [
    "body { background: url(/etc/passwd) }",
    "body { background: url(https://example.com/x.png) }",
    "body { background: url('../../secret') }",
    "body { background: url(figures/../../secret) }",
    "body { background: url(file:///report-site/figures/gallery.svg) }",
    'body { background: u\\72l("https://example.com/x.png") }',
    '@import "https://example.com/x.css";',
    "@media print { p { background: image-set('//example.com/x.png' 1x) } }",
    "@font-face { font-family: x; src: url(/usr/share/fonts/x.ttf) }",
]


@pytest.mark.parametrize("rule", OUTSIDE)
def test_css_pointing_outside_the_site_is_one_line_and_never_fetched(tmp_path, rule):
    css = tmp_path / "report.css"
    css.write_text(CSS.read_text(encoding="utf-8") + "\n" + rule + "\n", encoding="utf-8")
    old = write_site(tmp_path, "<p>old</p>", {}, CSS)

    def never(name):
        pytest.fail(f"figure {name} fetched for a stylesheet that is refused")

    where = re.escape(str(css))
    with pytest.raises(RenderError, match=rf"{where}: url\(.*\) is outside the report's site") as err:
        write_site(tmp_path, "<p>new</p>", {}, css)
    assert "\n" not in str(err.value)
    assert (old / "index.html").read_text() == "<p>old</p>"
    with pytest.raises(RenderError, match="is outside the report's site"):
        write_pdf("<p>x</p>", tmp_path / "r.pdf", never, css)
    assert not (tmp_path / "r.pdf").exists()


def test_css_may_point_at_the_sites_own_files_and_data_urls(tmp_path):
    css = tmp_path / "report.css"
    css.write_text(
        "a { background: url(figures/gallery.svg) } b { background: url('./favicon.svg') }\n"
        "i { background: url(data:image/png;base64,iVBORw0KGgo=) } svg { filter: url(#soft) }\n",
        encoding="utf-8",
    )
    assert (write_site(tmp_path, "<p>x</p>", {}, css) / "report.css").read_bytes() == css.read_bytes()
