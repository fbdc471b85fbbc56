"""From results to a publishable site and a PDF: context, HTML, files.

    context = build_context(results, checks, "assets/cases.yaml")
    html = render_html(context, "templates")
    site = write_site(out_dir, html, render_figures(results, evals), "assets/report.css")
    write_pdf(site, out_dir / "report.pdf")

The HTML is rendered once and serves both: the site as it is (screen CSS), the PDF through
WeasyPrint with the print rules of the same stylesheet (@media print, @page). All file I/O is in
`write_site` and `write_pdf`, and both write atomically: a reader never sees half a site or a
truncated PDF. build.py's figures and render stages call these; report/publish.py is the glue.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from pipeline.files import atomic_dir, write_bytes
from report.context import build_context
from report.filters import FILTERS

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
CSS = ROOT / "assets" / "report.css"
CASES = ROOT / "assets" / "cases.yaml"

__all__ = ["build_context", "environment", "render_html", "write_site", "write_pdf"]


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


def render_html(context: Mapping, template_dir: str | os.PathLike = TEMPLATES) -> str:
    """The report's HTML (report.html) from a context made by `build_context`."""
    return environment(template_dir).get_template("report.html").render(context)


# --- files --------------------------------------------------------------------------------------


def write_site(
    out_dir: str | os.PathLike,
    html: str,
    figure_svgs: Mapping[str, str],
    css_path: str | os.PathLike = CSS,
    name: str = "site",
) -> Path:
    """Write out_dir/site/: index.html, report.css and figures/<name>.svg, all linked relatively.

    The folder is built beside its final place and swapped in whole. Returns its path.
    """
    target = Path(out_dir) / name
    with atomic_dir(target) as built:
        (built / "index.html").write_text(html, encoding="utf-8")
        shutil.copyfile(css_path, built / "report.css")
        (built / "figures").mkdir()
        for fig_name, svg in figure_svgs.items():
            (built / "figures" / f"{fig_name}.svg").write_text(svg, encoding="utf-8")
    return target


def write_pdf(site_dir: str | os.PathLike, pdf_path: str | os.PathLike) -> Path:
    """The PDF of site_dir/index.html by WeasyPrint (print CSS, SVG figures kept as vectors)."""
    from weasyprint import HTML  # imported here: slow to import, and only the PDF needs it

    # The screen-only CSS (phone layout, scrolling tables) is not for print; WeasyPrint would warn on it.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    site_dir, pdf_path = Path(site_dir), Path(pdf_path)
    pdf = HTML(filename=str(site_dir / "index.html"), base_url=str(site_dir)).write_pdf()
    write_bytes(pdf_path, pdf)
    return pdf_path
