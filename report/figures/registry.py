"""Every figure of the report by its name, in report order, and the SVG of one of them.

The names and their order are report/outline.py's; a figure's name is the name of the function
that draws it, in report.figures.study, .beyond or .grid. A function that takes `evals`
draws from the eval arrays too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from report.figures import beyond, grid, study
from report.figures.svg import figure_to_svg
from report.outline import FIGURE_NAMES

Evals = Mapping[str, Mapping[str, np.ndarray]]
DRAWN_IN = (study, beyond, grid)  # the modules whose functions draw the figures


def _function(name: str) -> Callable[..., Figure]:
    found = [getattr(module, name) for module in DRAWN_IN if callable(getattr(module, name, None))]
    assert len(found) == 1, f"figure {name!r} of report/outline.py needs one function of that name"
    return found[0]


def needs_evals(draw: Callable[..., Figure]) -> bool:
    """Whether a figure function draws from the eval arrays (it takes `evals`)."""
    return "evals" in inspect.signature(draw).parameters


def _entry(name: str) -> tuple[str, Callable[..., Figure], bool]:
    draw = _function(name)
    return name, draw, needs_evals(draw)


# (name, function, needs eval arrays) of every figure, in the order the report shows them.
FIGURES: tuple[tuple[str, Callable[..., Figure], bool], ...] = tuple(_entry(name) for name in FIGURE_NAMES)
BY_NAME = {name: (draw, evals) for name, draw, evals in FIGURES}  # name -> (function, needs eval arrays)


def draw_svg(name: str, results: dict[str, Any], evals: Evals) -> str:
    """SVG text of one named figure; the Figure is dropped once saved."""
    draw, takes_evals = BY_NAME[name]
    fig = draw(results, evals) if takes_evals else draw(results)
    # Not fig.clear(): it rebuilds every Axes before dropping it (8% of the drawing time). A
    # Figure made without pyplot has no manager holding it; the garbage collector frees it.
    return figure_to_svg(fig)
