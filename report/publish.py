"""The render stage as build.py calls it: files in, site (and PDF) out.

    publish(results.json, checks.json, figures/, site/, report.pdf or None)

Reads what the earlier stages wrote (results, the claim checks, the figures as SVG) and hands
them to report.render; the text of assets/cases.yaml goes with them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from report.render import CASES, CSS, TEMPLATES, build_context, render_html, write_pdf, write_site


def read_figures(folder: str | os.PathLike) -> dict[str, str]:
    """{name: SVG text} of every figures/<name>.svg."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(Path(folder).glob("*.svg"))}


def publish(
    results_path: str | os.PathLike,
    checks_path: str | os.PathLike | None,
    figures_dir: str | os.PathLike,
    site_dir: str | os.PathLike,
    pdf_path: str | os.PathLike | None,
    cases_yaml: str | os.PathLike = CASES,
) -> Path:
    """Write site_dir (index.html, report.css, figures/) and, unless pdf_path is None, the PDF."""
    results = json.loads(Path(results_path).read_text(encoding="utf-8"))
    checks = []
    if checks_path is not None and Path(checks_path).exists():
        checks = json.loads(Path(checks_path).read_text(encoding="utf-8"))
    html = render_html(build_context(results, checks, cases_yaml), TEMPLATES)
    site_dir = Path(site_dir)
    site = write_site(site_dir.parent, html, read_figures(figures_dir), CSS, name=site_dir.name)
    if pdf_path is not None:
        write_pdf(site, pdf_path)
    return site
