"""From results to a publishable site and a PDF: context, HTML, files.

    context = build_context(results, checks, "assets/cases.yaml")
    html = render_html(context, "templates")
    figures = Drawing(results, evals)  # report.figures.drawing
    pdf, pages = render_pdf(html, figures.svg, "assets/report.css")
    site = write_site(out_dir, html, figures.all(), "assets/report.css", pdf=pdf)

The HTML is rendered once and serves both: the site as it is (screen CSS), the PDF through
WeasyPrint with the print rules of the same stylesheet (@media print, @page). The PDF is made in
memory; `write_site` writes the site atomically: a reader never sees half a site. build.py's
figures and render stages call these; report/publish.py is the glue and writes the PDF.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urljoin

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)

from pipeline.errors import StudyError
from pipeline.files import atomic_dir
from pipeline.project import ROOT
from report.assets import REFERENCES_YAML
from report.context import build_context
from report.filters import FILTERS

TEMPLATES = ROOT / "templates"
CSS = ROOT / "assets" / "report.css"
CASES = ROOT / "assets" / "cases.yaml"
FAVICON = ROOT / "assets" / "favicon.svg"  # the site's tab icon: the report's accent colour, no external file

__all__ = ["build_context", "environment", "render_html", "render_pdf", "write_site"]


def environment(template_dir: str | os.PathLike = TEMPLATES) -> Environment:
    """Jinja with autoescaping, an error on any undefined name, and the report's filters."""
    env = Environment(
        loader=FileSystemLoader(str(template_dir)),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        undefined=StrictUndefined,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


class RenderError(StudyError, ValueError):
    """A template or an asset of the site cannot make the report; the message names the file."""


def render_html(context: Mapping, template_dir: str | os.PathLike = TEMPLATES) -> str:
    """The report's HTML (report.html) from a context made by `build_context`."""
    if "refs" in context:
        context = {**context, "refs": CitedWorks(context["refs"])}
    try:
        return environment(template_dir).get_template("report.html").render(context)
    except TemplateSyntaxError as exc:
        message = " ".join((exc.message or "syntax error").splitlines()).rstrip(".")
        raise RenderError(
            f"{exc.filename or exc.name}, line {exc.lineno}: {message}: fix the template"
        ) from None
    except TemplateNotFound as exc:
        raise RenderError(
            f"{template_dir} has no template {exc.name!r}: add it, or fix the name that includes it"
        ) from None


class CitedWorks(dict):
    """references.yaml's entries, for the templates: citing a key it lacks is an error naming it."""

    def __missing__(self, key):
        raise RenderError(
            f"{REFERENCES_YAML} has no entry {key!r}, which a template cites: add the entry, or fix "
            "the citation"
        )


# --- files --------------------------------------------------------------------------------------


def write_site(
    out_dir: str | os.PathLike,
    html: str,
    figure_svgs: Mapping[str, str],
    css_path: str | os.PathLike = CSS,
    name: str = "site",
    pdf: bytes | None = None,
) -> Path:
    """Write out_dir/site/: index.html, report.css, favicon.svg, figures/<name>.svg and, when
    given, the PDF as report.pdf, all linked relatively and readable by everyone (0644).

    The folder is built beside its final place and swapped in whole. Returns its path.
    """
    target = Path(out_dir) / name
    with atomic_dir(target) as built:
        (built / "index.html").write_text(html, encoding="utf-8")
        (built / "report.css").write_bytes(site_css(css_path))
        shutil.copyfile(FAVICON, built / "favicon.svg")
        if pdf is not None:
            (built / PDF_NAME).write_bytes(pdf)
        for path in built.iterdir():
            if path.is_file():
                path.chmod(0o644)
        (built / "figures").mkdir()
        for fig_name, svg in figure_svgs.items():
            (built / "figures" / f"{fig_name}.svg").write_text(svg, encoding="utf-8")
    return target


PDF_NAME = "report.pdf"  # the PDF's stable name inside the site


# Where WeasyPrint believes the site to be: every file it asks for is served by `site_fetcher`, so
# the PDF is made from memory, before the site is written, and never reads anything else.
SITE_URL = "file:///report-site/"
# The files of the site that its stylesheet may point at, relative to it; anything else is outside.
CSS_MAY_USE = re.compile(r"favicon\.svg|figures/[A-Za-z0-9_-]+\.svg")
URL_FUNCTIONS = ("url", "src", "image-set", "-webkit-image-set")  # CSS functions that take addresses


def site_css(css_path: str | os.PathLike = CSS) -> bytes:
    """The stylesheet's bytes, once every address in it (url(), @import, image-set()) is a data:
    URL, a #fragment or a file of the site: a browser would fetch anything else from outside the
    site, and the PDF cannot have it. Read by a CSS parser, so that escapes (u\\72l()) count too."""
    import tinycss2  # WeasyPrint's own CSS parser

    try:
        data = Path(css_path).read_bytes()
    except OSError as exc:
        raise RenderError(f"{css_path} cannot be read ({exc.strerror}): restore the stylesheet") from None
    rules, _ = tinycss2.parse_stylesheet_bytes(data, skip_comments=True)
    for address in css_addresses(rules):
        if not in_site(address):
            raise RenderError(
                f"{css_path}: url({address!r}) is outside the report's site: use a data: URL or a file "
                "of the site (favicon.svg, figures/<name>.svg)"
            )
    return data


def css_addresses(nodes) -> Iterator[str]:
    """Every address in parsed CSS (tinycss2 nodes), nested blocks and at-rules included."""
    for node in nodes or ():
        if node.type == "url":
            yield node.value
        elif node.type == "function" and node.lower_name in URL_FUNCTIONS:
            yield from (arg.value for arg in node.arguments if arg.type == "string")
        elif node.type == "at-rule" and node.lower_at_keyword == "import":
            yield from (token.value for token in node.prelude if token.type == "string")
        for part in ("prelude", "content", "arguments"):
            yield from css_addresses(getattr(node, part, None))


def in_site(address: str) -> bool:
    """Whether a stylesheet's address is a data: URL, a fragment, or a file of the site."""
    if address.lower().startswith("data:") or address.startswith("#"):
        return True
    if ":" in address.split("/")[0] or address.startswith(("/", "\\")):  # a scheme or a root: not the site's
        return False
    resolved = urljoin(SITE_URL + "report.css", address)
    return resolved.startswith(SITE_URL) and bool(CSS_MAY_USE.fullmatch(resolved.removeprefix(SITE_URL)))


def site_fetcher(figure_svg: Callable[[str], str], css_path: str | os.PathLike = CSS):
    """A WeasyPrint URL fetcher serving the site's files: report.css, and figures/<name>.svg from
    `figure_svg(name)`, which may wait for a figure still being drawn; and the data: URLs of the
    images inside the figures. Any other address is an error that stops the PDF: the report
    must not depend on anything outside the site."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class SiteFiles(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("data:"):  # the images inside a figure's SVG
                return super().fetch(url, headers)
            path = url.removeprefix(SITE_URL)
            if path == "report.css":
                body, kind = site_css(css_path), "text/css"
            elif path.startswith("figures/") and path.endswith(".svg"):
                body, kind = (
                    figure_svg(path.removeprefix("figures/").removesuffix(".svg")).encode(),
                    "image/svg+xml",
                )
            else:
                raise ValueError(f"{url} is not a file of the report's site")
            return URLFetcherResponse(url, body, {"Content-Type": kind})

    return SiteFiles(fail_on_errors=True)


def render_pdf(
    html: str, figure_svg: Callable[[str], str], css_path: str | os.PathLike = CSS
) -> tuple[bytes, int]:
    """(the PDF's bytes, its page count) for the site's HTML, by WeasyPrint (print CSS, SVG figures
    kept as vectors).

    The figures come from `figure_svg(name)` when WeasyPrint reaches them, after it has parsed
    the HTML and applied the CSS: that much is done while they are still being drawn.
    """
    site_css(css_path)  # before any work: a stylesheet that points outside the site is refused
    from weasyprint import HTML  # imported here: slow to import, and only the PDF needs it

    # The screen-only CSS (phone layout, scrolling tables) is not for print; WeasyPrint would warn on it.
    logger = logging.getLogger("weasyprint")
    logger.setLevel(logging.ERROR)
    errors = _Collected()
    logger.addHandler(errors)
    try:
        fetcher = site_fetcher(figure_svg, css_path)
        with gc_paused():
            # Tagged PDF/UA-1: structure for screen readers and reflow. PDF/A-3b is the other variant
            # this WeasyPrint offers; one variant per file, and UA is the one that requires tags.
            document = HTML(string=html, base_url=SITE_URL, url_fetcher=fetcher).render(pdf_tags=True)
            pdf = document.write_pdf(pdf_variant="pdf/ua-1")
    finally:
        logger.removeHandler(errors)
    if errors.messages:
        raise PDFError("the PDF would be incomplete: " + "; ".join(errors.messages))
    return pdf, len(document.pages)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: WeasyPrint makes some million short-lived objects for
    this report, and the collector's passes over them took 10% of the PDF's time (0.6 of 6.3 s,
    counted with gc.callbacks, 2026-11-29). What they leave is collected after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class PDFError(RuntimeError):
    """WeasyPrint reported an error: a figure or image it could not load or draw."""


class _Collected(logging.Handler):
    """WeasyPrint's errors during one PDF. It logs a figure it cannot load or draw (even one
    interrupted by Ctrl-C) and goes on without it; a report with a blank figure must not pass."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
