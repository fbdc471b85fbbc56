"""From results to a publishable site and a PDF: context, HTML, files.

    context = build_context(results, checks, "assets/cases.yaml")
    html = render_html(context, "templates")
    site = write_site(out_dir, html, render_figures(results, evals), "assets/report.css")
    write_pdf(site, out_dir / "report.pdf")

The HTML is rendered once and serves both: the site as it is (screen CSS), the PDF through
WeasyPrint with the print rules of the same stylesheet (@media print, @page). All file I/O is in
`write_site` and `write_pdf`, and both write atomically: a reader never sees half a site or a
truncated PDF.

    python -m report.render RESULTS.json --eval baseline=B.npz --eval cutmix=C.npz --out DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
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

__all__ = ["build_context", "environment", "render_html", "write_site", "write_pdf", "render_report"]


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


# --- everything at once -------------------------------------------------------------------------


def render_report(
    results: dict,
    evals: Mapping[str, Mapping],
    checks: list[dict] | None,
    out_dir: str | os.PathLike,
    cases_yaml: str | os.PathLike | Mapping | None = CASES,
    pdf: bool = True,
) -> dict[str, Path | float]:
    """Figures, HTML, site and (optionally) PDF under out_dir; returns paths and seconds per step."""
    from report.figures import render_figures

    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    svgs = render_figures(results, evals)
    t1 = time.perf_counter()
    html = render_html(build_context(results, checks, cases_yaml))
    site = write_site(out_dir, html, svgs, CSS)
    t2 = time.perf_counter()
    done: dict[str, Path | float] = {"site": site, "figures_s": t1 - t0, "html_s": t2 - t1}
    if pdf:
        done["pdf"] = write_pdf(site, out_dir / "report.pdf")
        done["pdf_s"] = time.perf_counter() - t2
    return done


def main(argv: list[str] | None = None) -> None:
    from report.arrays import load_eval_arrays

    parser = argparse.ArgumentParser(
        description="Render the report from a results.json and the runs' eval arrays."
    )
    parser.add_argument("results", type=Path, help="results.json (pipeline/RESULTS.md)")
    parser.add_argument("--eval", action="append", default=[], metavar="MODEL=PATH", help="a run's eval.npz")
    parser.add_argument(
        "--checks", type=Path, help="the claim checks as JSON (a list of rows); default: none"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for site/ and report.pdf")
    parser.add_argument("--no-pdf", action="store_true", help="only the site")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text(encoding="utf-8"))
    evals = {}
    for item in args.eval:
        model, _, path = item.partition("=")
        evals[model] = load_eval_arrays(path)
    checks = json.loads(args.checks.read_text(encoding="utf-8")) if args.checks else []
    t = time.perf_counter()
    done = render_report(results, evals, checks, args.out, pdf=not args.no_pdf)
    total = time.perf_counter() - t
    steps = ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in done.items() if k.endswith("_s"))
    print(
        f"rendered {done['site']}"
        + (f" and {done['pdf']}" if "pdf" in done else "")
        + f" in {total:.2f} s ({steps})"
    )


if __name__ == "__main__":
    main()
