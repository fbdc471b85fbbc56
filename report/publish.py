"""The render stage as build.py calls it: results, checks and figures in, site (and PDF) out.

    publish(results.json, checks.json, figures, site/, report.pdf or None)

Reads what the earlier stages wrote (results, the claim checks) and hands them to report.render
with the text of assets/cases.yaml. `figures` gives each figure's SVG by name: a
`report.figures.drawing.Drawing` still at work, or a `FigureFolder` of figures drawn before. The PDF is
laid out first, taking each figure when it gets there; the site is written once all are in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from pipeline.files import write_bytes
from pipeline.jsonfile import parse_json
from report.claims import ClaimsError, load_results
from report.outline import FIGURE_NAMES
from report.render import CASES, CSS, PDF_NAME, TEMPLATES, build_context, render_html, render_pdf, write_site


class Figures(Protocol):
    def svg(self, name: str) -> str: ...

    def all(self) -> dict[str, str]: ...

    def close(self) -> None: ...


class FigureFolder:
    """Figures drawn by an earlier build: figures/<name>.svg."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def svg(self, name: str) -> str:
        return (self.folder / f"{name}.svg").read_text(encoding="utf-8")

    def all(self) -> dict[str, str]:
        """{name: SVG text} of every figure, in report order (as `Drawing.all`)."""
        return {name: self.svg(name) for name in FIGURE_NAMES}

    def close(self) -> None:
        pass


def load_checks(path: Path) -> list[dict]:
    """checks.json: a list of rows, each with a claim and a verdict."""
    try:
        rows = parse_json(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError):
        rows = None
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and "claim" in r and "verdict" in r for r in rows
    ):
        raise ClaimsError(
            f"{path} is not a checks.json (a list of claim rows): rebuild it with python build.py"
        )
    return rows


def publish(
    results_path: str | os.PathLike,
    checks_path: str | os.PathLike | None,
    figures: Figures,
    site_dir: str | os.PathLike,
    pdf_path: str | os.PathLike | None,
    cases_yaml: str | os.PathLike = CASES,
) -> Path:
    """Write the PDF (unless pdf_path is None), then site_dir (index.html, report.css, figures/)."""
    results = load_results(Path(results_path))  # checked: a hand-edited file is one line, not a traceback
    checks = []
    if checks_path is not None and Path(checks_path).exists():
        checks = load_checks(Path(checks_path))
    context = build_context(results, checks, cases_yaml)
    pdf, site_context = None, context
    if pdf_path is not None:
        pdf, pages = render_pdf(render_html({**context, "for_site": False}, TEMPLATES), figures.svg, CSS)
        write_bytes(Path(pdf_path), pdf)
        # The site carries the PDF, linked under the title with its size and pages (known only now).
        site_context = {**context, "pdf_download": download(pdf, pages)}
    html = render_html(site_context, TEMPLATES)
    site_dir = Path(site_dir)
    return write_site(site_dir.parent, html, figures.all(), CSS, name=site_dir.name, pdf=pdf)


def download(pdf: bytes, pages: int) -> dict:
    """What the site's download link says of the PDF: its address in the site, size and pages."""
    return {
        "href": PDF_NAME,
        "size": f"{len(pdf) / 1e6:.1f} MB" if len(pdf) >= 1e6 else f"{len(pdf) / 1e3:.0f} kB",
        "pages": pages,
    }
