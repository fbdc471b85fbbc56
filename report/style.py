"""One look for every figure: sizes for an A4 page, a colour-blind-safe palette, rcParams.

Colours are from Okabe & Ito (2008), "Color Universal Design", distinguishable under the
common colour-vision deficiencies. The heat map is matplotlib's `inferno` (perceptually uniform,
readable in greyscale). Every figure function runs inside `styled`, so that all of them share
the same fonts, line widths and layout engine without touching global pyplot state.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import matplotlib as mpl
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
    # room at the figure's edges: browsers' font metrics differ a little from matplotlib's
    "figure.constrained_layout.h_pad": 0.07,  # inches
    "figure.constrained_layout.w_pad": 0.07,
    "savefig.dpi": 100,  # raster images (photos, heat maps) inside the SVG: 100 dpi is ~4 px per CIFAR pixel at print size, and 150 cost 20% more drawing time
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


def new_figure(height_in: float, width_in: float = TEXT_WIDTH_IN) -> Figure:
    """A Figure with constrained layout (no clipped labels), detached from pyplot."""
    return Figure(figsize=(width_in, height_in), layout="constrained")
