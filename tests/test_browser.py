"""The built site in a real browser (Playwright driving the system Chromium), served over HTTP on
127.0.0.1, at a desktop and at a phone width: no console error and no failed request, every figure
decoded, every link resolving (the PDF link to a PDF), and no serious or critical axe-core
violation (axe-playwright-python bundles axe-core).

Skipped only where no Chromium exists at all, and then loudly: .ci/run installs Debian's chromium.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading

import pytest

from tests.fixtures.make_fixture import fixture_checks, fixture_results, fixture_svgs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
if CHROMIUM is None:
    pytest.skip(
        "NO CHROMIUM ON THIS MACHINE: the site is NOT tested in a browser (apt-get install chromium)",
        allow_module_level=True,
    )
playwright_api = pytest.importorskip("playwright.sync_api")
axe_api = pytest.importorskip("axe_playwright_python.sync_playwright")

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-sync",
]


class _Svgs:
    def svg(self, name: str) -> str:
        return fixture_svgs()[name]

    def all(self) -> dict[str, str]:
        return fixture_svgs()


@pytest.fixture(scope="module")
def site_url(tmp_path_factory):
    """The fixture report published as build.py publishes it (site with its PDF), served on 127.0.0.1."""
    from report.publish import publish

    root = tmp_path_factory.mktemp("served")
    (root / "results.json").write_text(json.dumps(fixture_results()))
    (root / "checks.json").write_text(json.dumps(fixture_checks()))
    site = publish(root / "results.json", root / "checks.json", _Svgs(), root / "site", root / "report.pdf")
    quiet = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(params=list(WIDTHS))
def page(request, browser, site_url):
    """The report's page at one width, with every console error and failed request recorded."""
    width, height = WIDTHS[request.param]
    pg = browser.new_page(viewport={"width": width, "height": height})
    pg.problems = []
    pg.on(
        "console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    pg.on("requestfailed", lambda r: pg.problems.append(f"failed: {r.url}"))
    pg.on("response", lambda r: pg.problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
    pg.goto(site_url + "index.html", wait_until="load")
    yield pg
    pg.close()


def test_no_console_error_and_no_failed_request(page):
    assert page.problems == []


def test_every_figure_is_decoded(page):
    sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert len(sizes) >= 12 and all(width > 0 for _, width in sizes), sizes


def test_every_link_resolves_and_the_pdf_link_gives_a_pdf(page, site_url):
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
    for href in set(hrefs):
        if href.startswith("#"):
            assert href[1:] in ids, f"no target for {href}"
            continue
        if href.startswith("https://"):
            continue  # a cited work's address (the reference list): outside the site, and offline here
        response = page.request.get(site_url + href)
        assert response.status == 200, href
        if href.endswith(".pdf"):
            assert response.headers["content-type"] == "application/pdf" and response.body()[:5] == b"%PDF-"
    assert "report.pdf" in hrefs


def test_no_serious_or_critical_accessibility_violation(page):
    violations = axe_api.Axe().run(page).response["violations"]
    bad = [
        (v["id"], v["impact"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")
    ]
    assert bad == []


def test_the_per_class_table_fits_a_desktop_screen(browser, site_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(site_url + "index.html")
    box = page.eval_on_selector("#tab-per_class .table-scroll", "e => [e.scrollWidth, e.clientWidth]")
    page.close()
    assert box[0] <= box[1] + 1, f"the per-class table is {box[0]} px wide in a {box[1]} px box"


def test_the_claim_checks_show_their_verdict_on_a_phone(browser, site_url):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(site_url + "index.html")
    box = page.eval_on_selector("#tab-checks .table-scroll", "e => [e.scrollWidth, e.clientWidth]")
    verdict_visible = page.eval_on_selector(
        "#tab-checks td.verdict", "e => e.getBoundingClientRect().right <= innerWidth"
    )
    page.close()
    assert box[0] <= box[1] + 1 and verdict_visible, box


def test_no_page_wider_than_the_screen(page):
    """Only table boxes may scroll sideways (they are focusable regions); the page itself never does."""
    width, screen = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert width <= screen, f"the page is {width} px wide on a {screen} px screen"
