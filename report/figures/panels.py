"""Small drawing helpers the figure functions share: image panels, placeholders, heat overlays, bars.

Each takes a matplotlib Axes and draws on it; none creates, saves or shows a figure.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import PathPatch
from matplotlib.path import Path
from matplotlib.ticker import MaxNLocator

from report.figures.cam import upsample_bilinear
from report.figures.style import GREY, HEAT_ALPHA_MAX, HEAT_ALPHA_MIN, HEAT_CMAP, SPLIT_STYLE, Margins, panels
from report.filters import conf, label

PLACEHOLDER_FACE = "#F2F2F2"


def bare(ax: Axes) -> None:
    """No ticks; keep a thin grey frame so an image panel reads as a panel."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color(GREY)
        spine.set_linewidth(0.5)


def bars(
    ax: Axes,
    x: np.ndarray,
    heights: np.ndarray,
    width: float,
    bottom: float | np.ndarray = 0.0,
    color: str | list[str] = GREY,
    **style,
) -> list[PathPatch]:
    """Vertical bars as `ax.bar` draws them, but one compound path per colour instead of one
    artist per bar.

    With a hundred bars, `ax.bar` costs a Rectangle artist each (drawn and saved one by one) and
    a clipped <path> each in the SVG, which WeasyPrint draws one by one: as one path per colour
    the reliability diagrams and Figure 8 took half the time to draw and to print (2026-11-29),
    and neighbouring translucent bars no longer show hairline seams. Bars of non-finite height
    are left out, as `ax.bar` leaves them blank. `style` goes to each PathPatch (edgecolor,
    linewidth, alpha, label, ...); `label` names the first colour's patch only.
    """
    x, heights = np.asarray(x, dtype=float), np.asarray(heights, dtype=float)
    bottoms = np.broadcast_to(np.asarray(bottom, dtype=float), x.shape)
    colors = np.broadcast_to(np.asarray(color, dtype=object), x.shape)
    shown = np.isfinite(heights) & np.isfinite(bottoms)
    style = {"linewidth": 0, "edgecolor": "none"} | style
    patches = []
    for c in dict.fromkeys(colors[shown]):  # colours in order of first use
        pick = shown & (colors == c)
        left, low, high = x[pick] - width / 2, bottoms[pick], bottoms[pick] + heights[pick]
        corners = np.stack(
            [
                np.stack(pair, axis=1)
                for pair in ((left, low), (left + width, low), (left + width, high), (left, high))
            ],
            axis=1,
        )
        patch = PathPatch(Path.make_compound_path_from_polys(corners), facecolor=c, **style)
        patch.sticky_edges.y.extend(np.unique(low).tolist())  # as ax.bar: no margin below a baseline
        ax.add_patch(patch)
        patches.append(patch)
        style.pop("label", None)
    return patches


def placeholder(ax: Axes, text: str) -> None:
    """A grey square that says why there is nothing to show here."""
    ax.set_facecolor(PLACEHOLDER_FACE)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=6.5, color="#444444", wrap=True)
    bare(ax)


def show_image(ax: Axes, image: np.ndarray) -> None:
    """A 32 x 32 RGB image, pixels kept sharp.

    Interpolation "none" puts the image into the SVG as its own 32 x 32 pixels, scaled by the SVG
    and marked to be drawn pixelated (browsers, and WeasyPrint's PDF); "nearest" resampled it at
    100 dpi to a non-integer 95 px that browsers then smoothed. The file is smaller too.
    """
    ax.imshow(image, interpolation="none")
    bare(ax)


def show_heat(ax: Axes, image: np.ndarray, cam: np.ndarray, vmax: float, vmin: float = 0.0) -> AxesImage:
    """An image with a Grad-CAM map upsampled bilinearly to its size and laid over it.

    The map's opacity grows with its value, so the picture stays visible where the model does
    not look and is covered where it does.
    """
    size = image.shape[0]
    heat = upsample_bilinear(cam, size)
    level = np.clip((heat - vmin) / (vmax - vmin if vmax > vmin else 1.0), 0, 1)
    ax.imshow(image, interpolation="nearest")
    shown = ax.imshow(
        heat,
        cmap=HEAT_CMAP,
        vmin=vmin,
        vmax=vmax,
        alpha=HEAT_ALPHA_MIN + (HEAT_ALPHA_MAX - HEAT_ALPHA_MIN) * level,
        interpolation="bilinear",
    )
    bare(ax)
    return shown


def empty_figure(fig: Figure, text: str) -> Figure:
    """A figure with one placeholder panel (for an empty list of cases, say)."""
    ax = panels(fig, margins=Margins(left=0.1, right=0.1, top=0.1, bottom=0.1))[0, 0]
    placeholder(ax, text)
    return fig


def case_title(row: dict) -> str:
    """'#3640' / 'true: castle' / 'pred: road 95.9%' for one row of the cases table."""
    return "\n".join(
        [
            f"#{row['id']}",
            f"true: {label(row['true_class'])}",
            f"pred: {label(row['baseline_prediction'])} {conf(row['baseline_confidence'])}",
        ]
    )


def lr_drops(epochs: list[dict], milestones: list[int]) -> list[tuple[float, float]]:
    """(x, factor) of each learning-rate drop: between the last epoch at one rate and the next.

    Read from the rates recorded per epoch when there are any, else from the milestones.
    """
    if epochs and all("lr" in e for e in epochs):
        return [
            ((a["epoch"] + b["epoch"]) / 2, a["lr"] / b["lr"])
            for a, b in zip(epochs, epochs[1:], strict=False)
            if b["lr"] < a["lr"]
        ]
    return [(m + 0.5, float("nan")) for m in milestones]


def training_curves(fig: Figure, epochs: list[dict], milestones: list[int], title: str) -> Figure:
    """Loss and accuracy per epoch, train against val, learning-rate drops marked."""
    ax_loss, ax_acc = panels(fig, 1, 2, Margins(left=0.5))[0]
    if not epochs:
        for ax in (ax_loss, ax_acc):
            placeholder(ax, "no training history recorded")
        return fig
    x = [e["epoch"] for e in epochs]
    marker = "o" if len(x) <= 12 else None  # a few epochs (smoke) read better as dots
    for split in ("train", "val"):
        kw = {**SPLIT_STYLE[split], "marker": marker, "markersize": 3, "label": split}
        ax_loss.plot(x, [e[f"{split}_loss"] for e in epochs], **kw)
        ax_acc.plot(x, [100 * e[f"{split}_acc"] for e in epochs], **kw)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (nats)", title=f"{title}: loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{title}: accuracy")
    ax_acc.set_ylim(0, 100)
    ax_loss.set_ylim(bottom=0)
    for ax in (ax_loss, ax_acc):
        for xd, factor in lr_drops(epochs, milestones):
            ax.axvline(xd, color=GREY, linewidth=0.8, linestyle=":")
            text = "lr drop" if np.isnan(factor) else f"lr ÷{factor:.0f}"
            ax.text(
                xd,
                0.98,
                f" {text}",
                transform=ax.get_xaxis_transform(),
                ha="left",
                va="top",
                fontsize=6,
                color="#555555",
            )
        ax.set_xlim(min(x) - 0.5, max(x) + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
        ax.grid(True, axis="y")
    ax_acc.legend(loc="lower right")
    return fig
