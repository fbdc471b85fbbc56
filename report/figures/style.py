"""One look for every figure: sizes for an A4 page, a colour-blind-safe palette, rcParams.

Colours are from Okabe & Ito (2008), "Color Universal Design", distinguishable under the
common colour-vision deficiencies. The heat map is matplotlib's `inferno` (perceptually uniform,
readable in greyscale). Every figure function runs inside `styled`, so that all of them share
the same fonts and line widths without touching global pyplot state; `panels` places the
axes with fixed margins (`Margins`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

TEXT_WIDTH_IN = 6.5  # inches: the A4 text width of assets/report.css (170 mm) less a margin
PANEL_IN = 1.3  # inches: side of one image panel when five share a row

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
GREY = "#999999"

MODEL_COLOR = {"baseline": OKABE_ITO["blue"], "cutmix": OKABE_ITO["orange"]}
MODEL_LABEL = {"baseline": "Baseline", "cutmix": "CutMix"}
SPLIT_STYLE = {  # train against val in the training curves
    "train": {"color": OKABE_ITO["black"], "linestyle": "-"},
    "val": {"color": OKABE_ITO["reddish_purple"], "linestyle": "--"},
}
IMPROVED = OKABE_ITO["bluish_green"]
REGRESSED = OKABE_ITO["vermillion"]
HEAT_CMAP = "inferno"
HEAT_ALPHA_MIN, HEAT_ALPHA_MAX = 0.15, 0.8  # opacity of a Grad-CAM map over its image, low to high

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 8.0,  # pt at print size
    "axes.titlesize": 8.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 7.0,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.2,
    "axes.grid": False,
    "grid.linewidth": 0.4,
    "grid.color": "#DDDDDD",
    "axes.prop_cycle": mpl.cycler(color=[MODEL_COLOR["baseline"], MODEL_COLOR["cutmix"]]),
    "figure.dpi": 100,
    "savefig.dpi": 100,  # the Grad-CAM overlays, rasterised inside the SVG (photos go in unsampled): ~3 px per CIFAR pixel at print size; 150 cost 20% more drawing time
    "svg.fonttype": "none",  # text as <text>: searchable, and fast for WeasyPrint to draw
    "svg.hashsalt": "stress-testing-cnns",  # stable element ids: identical input, identical SVG
    "image.interpolation": "nearest",
}


def styled(fn: Callable[..., Figure]) -> Callable[..., Figure]:
    """Run a figure function inside the report's rcParams (artists read them on creation)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> Figure:
        with mpl.rc_context(RC):
            return fn(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Margins:
    """Room around and between a figure's panels, in inches: for tick labels, axis labels, titles.

    Fixed rather than found by matplotlib's constrained layout, which drew each figure twice
    and took 43% of the time to draw the report's figures. The defaults hold a panel with
    four-digit tick labels, an axis label on each side and a one-line title; each figure states
    what it needs beyond that, and tests/test_figures.py checks that no text leaves the
    figure or runs into another panel.
    """

    left: float = 0.6
    right: float = 0.1
    top: float = 0.25
    bottom: float = 0.45
    wgap: float = 0.6  # between columns
    hgap: float = 0.5  # between rows

    def __post_init__(self) -> None:
        if min(self.left, self.right, self.top, self.bottom, self.wgap, self.hgap) < 0:
            raise ValueError(f"margins are lengths, not negative: {self}")


def new_figure(height_in: float, width_in: float = TEXT_WIDTH_IN) -> Figure:
    """A Figure of this size in inches, detached from pyplot, without a layout engine."""
    return Figure(figsize=(width_in, height_in))


def panels(
    fig: Figure, rows: int = 1, cols: int = 1, margins: Margins = Margins(), **subplot_kw
) -> np.ndarray:
    """A rows x cols grid of Axes (2-D array) placed by `margins`; extra keywords to subplots."""
    width, height = fig.get_size_inches()
    inner_w = width - margins.left - margins.right
    inner_h = height - margins.top - margins.bottom
    panel_w = (inner_w - (cols - 1) * margins.wgap) / cols
    panel_h = (inner_h - (rows - 1) * margins.hgap) / rows
    if panel_w <= 0 or panel_h <= 0:
        raise ValueError(f"a {width} x {height} in figure has no room for {rows} x {cols} panels")
    layout = {
        "left": margins.left / width,
        "right": 1 - margins.right / width,
        "bottom": margins.bottom / height,
        "top": 1 - margins.top / height,
        "wspace": margins.wgap / panel_w,  # matplotlib's gaps are fractions of a panel's size
        "hspace": margins.hgap / panel_h,
    }
    return fig.subplots(rows, cols, squeeze=False, gridspec_kw=layout, **subplot_kw)


def axes_at(fig: Figure, left_in: float, bottom_in: float, width_in: float, height_in: float):
    """An Axes at a fixed place, in inches from the figure's bottom-left corner (a colour bar's)."""
    width, height = fig.get_size_inches()
    return fig.add_axes((left_in / width, bottom_in / height, width_in / width, height_in / height))
