"""Figures of the grid's runs: every seed's headline numbers as dots, and the augmentation
ablation's training curves.

Same contract as `report.figures.study`: functions from results.json to a Figure. The dots are
drawn one per run, not as a bar with an error bar: with 3 seeds the points themselves are the
honest summary (Weissgerber et al. 2015, "Beyond Bar and Line Graphs", PLoS Biology).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from pipeline.config import MODELS
from pipeline.grid import CONFIDENT, STUDY_SEED, study_rows
from report.figures.panels import empty_figure, placeholder
from report.figures.style import (
    MODEL_COLOR,
    MODEL_LABEL,
    OKABE_ITO,
    SPLIT_STYLE,
    Margins,
    new_figure,
    panels,
    styled,
)
from report.filters import fraction_pct

DOTS = (  # the quantities shown as dots: (quantity, panel title, axis label)
    ("test_accuracy", "Test accuracy", "%"),
    ("train_val_gap", "Train − val gap", "points"),
    ("wrong_ge_90", f"Wrong, ≥ {fraction_pct(CONFIDENT[0])} conf.", "test images"),
    ("ece", "Calibration, ECE", "%"),
)
JITTER = 0.12  # horizontal offset between the seeds' dots of one model, so that equal values stay apart
ARM_COLOR = {"recipe": MODEL_COLOR["baseline"], "variant": OKABE_ITO["vermillion"]}  # far apart in hue


def _seed_legend(fig: Figure) -> None:
    handles = [
        Line2D(
            [], [], marker="o", linestyle="", color="#555555", label=f"seed {STUDY_SEED} (the report's runs)"
        ),
        Line2D(
            [], [], marker="o", linestyle="", markerfacecolor="white", color="#555555", label="other seeds"
        ),
        Line2D([], [], color="#555555", linewidth=1.6, label="mean"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, bbox_to_anchor=(0.5, 0.0))


@styled
def seed_dots(results: dict) -> Figure:
    """Each headline quantity of every seed's run, one dot per run, baseline against CutMix."""
    runs = study_rows(results.get("runs") or [])
    fig = new_figure(2.3)
    if len({r["seed"] for r in runs}) < 2:
        return empty_figure(fig, "one run per model:\nno seed spread measured")
    axes = panels(fig, 1, len(DOTS), Margins(left=0.45, bottom=0.55, wgap=0.6))[0]
    for ax, (quantity, title, ylabel) in zip(axes, DOTS, strict=True):
        for x, model in enumerate(MODELS):
            mine = sorted((r for r in runs if r["model"] == model), key=lambda r: r["seed"])
            values = [r[quantity] for r in mine if r[quantity] is not None]
            offsets = (np.arange(len(mine)) - (len(mine) - 1) / 2) * JITTER
            for dx, r in zip(offsets, mine, strict=True):
                if r[quantity] is None:
                    continue
                primary = r["seed"] == STUDY_SEED
                ax.plot(
                    x + dx,
                    r[quantity],
                    marker="o",
                    markersize=4.5,
                    linestyle="",
                    color=MODEL_COLOR[model],
                    markerfacecolor=MODEL_COLOR[model] if primary else "white",
                    zorder=3,
                )
            if values:
                ax.plot([x - 0.3, x + 0.3], [np.mean(values)] * 2, color=MODEL_COLOR[model], linewidth=1.6)
        ax.set_xticks(range(len(MODELS)), [MODEL_LABEL[m] for m in MODELS])
        ax.set_xlim(-0.6, len(MODELS) - 0.4)
        ax.set(title=title, ylabel=ylabel)
        ax.margins(y=0.15)
        if quantity.startswith("wrong"):
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, axis="y")
    _seed_legend(fig)
    return fig


def _curves(ax_loss, ax_acc, epochs: list[dict], color: str, name: str) -> None:
    x = [e["epoch"] for e in epochs]
    marker = "o" if len(x) <= 12 else None
    for split in ("train", "val"):
        kw = {"color": color, "linestyle": SPLIT_STYLE[split]["linestyle"], "marker": marker, "markersize": 3}
        ax_loss.plot(x, [e[f"{split}_loss"] for e in epochs], **kw, label=f"{name}, {split}")
        ax_acc.plot(x, [100 * e[f"{split}_acc"] for e in epochs], **kw, label=f"{name}, {split}")


@styled
def ablation_curves(results: dict) -> Figure:
    """The baseline's training curves without and with the ablation's change, in one figure."""
    found = results["tables"].get("ablation")
    fig = new_figure(2.9)
    if not found:
        return empty_figure(fig, "no ablation in this profile's grid")
    ax_loss, ax_acc = panels(fig, 1, 2, Margins(left=0.5, bottom=0.85))[0]
    histories = results["series"]["runs"]
    names = {"recipe": "without crop + flip", "variant": "with crop + flip"}
    for arm in ("recipe", "variant"):
        epochs = histories.get(found[arm]["name"]) or []
        if not epochs:
            placeholder(ax_loss, "no training history recorded")
            continue
        _curves(ax_loss, ax_acc, epochs, ARM_COLOR[arm], names[arm])
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (nats)", title="Baseline: loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Baseline: accuracy")
    ax_acc.set_ylim(0, 100)
    ax_loss.set_ylim(bottom=0)
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, axis="y")
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, bbox_to_anchor=(0.5, 0.0), columnspacing=1.0)
    return fig
