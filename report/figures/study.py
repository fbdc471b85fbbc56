"""The study's eight figures.

A figure is a function from data to a matplotlib `Figure`: `results` is results.json as a dict
(pipeline/RESULTS.md); `evals` is {"baseline": arrays, "cutmix": arrays} from
`pipeline.evalfile.load_eval`, needed only where images or Grad-CAM maps are drawn. A figure
function never saves or shows; `report.figures.registry.draw_svg` saves one as SVG text and lets
it go, and `report.figures.drawing.Drawing` draws them all in worker processes.
The analyses beyond the study are drawn in `report.figures.beyond`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from pipeline.config import MODELS
from report.figures.arrays import find_cam, find_image
from report.figures.cam import normalise_max, normalise_sum
from report.figures.panels import (
    bars,
    case_title,
    empty_figure,
    placeholder,
    show_heat,
    show_image,
    training_curves,
)
from report.figures.style import (
    GREY,
    IMPROVED,
    MODEL_COLOR,
    MODEL_LABEL,
    PANEL_IN,
    REGRESSED,
    Margins,
    axes_at,
    new_figure,
    panels,
    styled,
)
from report.filters import conf, label, points, relchange, thousands

Evals = Mapping[str, Mapping[str, np.ndarray]]

NOT_EVALUATED = "not evaluated\nin this run"
NO_IMAGE = "image not\nstored"
NOT_A_FAILURE = "not a baseline\nfailure: nothing\nwrong to explain"


def _cases(results: dict) -> list[dict]:
    return list(results["tables"]["cases"])


# --- Figures 1 and 4: training curves ---------------------------------------------------------


@styled
def training_baseline(results: dict) -> Figure:
    """Figure 1: the baseline's loss and accuracy per epoch, train against val."""
    series = results["series"]
    return training_curves(new_figure(2.5), series["history"]["baseline"], series["milestones"], "Baseline")


@styled
def training_cutmix(results: dict) -> Figure:
    """Figure 4: the CutMix model's training curves, drawn like Figure 1."""
    series = results["series"]
    return training_curves(new_figure(2.5), series["history"]["cutmix"], series["milestones"], "CutMix")


# --- Figures 2, 3 and 5: the failure cases ----------------------------------------------------


# Image panels sit close together; above each is a title of up to three lines at 7 pt, and
# the Grad-CAM figures keep room on the right for the colour bar and its two-line label.
CASE_MARGINS = Margins(left=0.05, right=0.05, top=0.45, bottom=0.05, wgap=0.14)
CAM_MARGINS = Margins(left=0.05, right=0.95, top=0.47, bottom=0.05, wgap=0.14)
COMPARE_MARGINS = Margins(left=0.25, right=0.95, top=0.47, bottom=0.05, wgap=0.14, hgap=0.47)
COLORBAR_LEFT_IN, COLORBAR_WIDTH_IN = 5.72, 0.1  # in the room the Grad-CAM margins leave


def _case_axes(fig: Figure, n: int, margins: Margins, rows: int = 1) -> np.ndarray:
    """rows x n image panels, as a 2-D array of Axes."""
    return panels(fig, rows, n, margins)


def _colorbar(fig: Figure, heat, bottom_in: float, height_in: float, label: str) -> None:
    """The heat maps' colour bar at the right of the figure, labelled on its right."""
    bar = fig.colorbar(heat, cax=axes_at(fig, COLORBAR_LEFT_IN, bottom_in, COLORBAR_WIDTH_IN, height_in))
    bar.set_label(label, fontsize=6.5)
    bar.ax.tick_params(labelsize=6)


@styled
def failure_cases(results: dict, evals: Evals) -> Figure:
    """Figure 2: each configured case's image, true class, baseline prediction and confidence."""
    cases = _cases(results)
    fig = new_figure(PANEL_IN + 0.38)
    if not cases:
        return empty_figure(fig, "no failure cases configured")
    for ax, row in zip(_case_axes(fig, len(cases), CASE_MARGINS)[0], cases, strict=True):
        image = find_image(evals, int(row["id"]))
        if row["status"] == "not_evaluated":
            placeholder(ax, f"#{row['id']}\n{NOT_EVALUATED}")
            continue
        if image is None:
            placeholder(ax, NO_IMAGE)
        else:
            show_image(ax, image)
        title = case_title(row)
        if row["status"] == "not_a_baseline_failure":
            title = f"#{row['id']}\n{label(row['true_class'])}\nbaseline correct"
        ax.set_title(title, fontsize=7, loc="left")
    return fig


@styled
def gradcam_failures(results: dict, evals: Evals) -> Figure:
    """Figure 3: the baseline's Grad-CAM for its (wrong) predicted class over each case's image.

    Each map is scaled by its own maximum: this figure shows where each map looks, Figure 5
    compares how much they spread.
    """
    cases = _cases(results)
    fig = new_figure(PANEL_IN + 0.45)
    if not cases:
        return empty_figure(fig, "no failure cases configured")
    axes = _case_axes(fig, len(cases), CAM_MARGINS)[0]
    heat = None
    for ax, row in zip(axes, cases, strict=True):
        test_id = int(row["id"])
        image, cam = find_image(evals, test_id), find_cam(evals.get("baseline"), test_id)
        if row["status"] == "not_evaluated":
            placeholder(ax, f"#{test_id}\n{NOT_EVALUATED}")
        elif row["status"] == "not_a_baseline_failure":
            placeholder(ax, f"#{test_id}\n{NOT_A_FAILURE}")
        elif image is None or cam is None:
            placeholder(ax, f"#{test_id}\n" + (NO_IMAGE if image is None else "no Grad-CAM map"))
        else:
            heat = show_heat(ax, image, normalise_max(cam), vmax=1.0)
            ax.set_title(
                f"#{test_id}\n{label(row['true_class'])} →\n{label(row['baseline_prediction'])}",
                fontsize=7,
                loc="left",
            )
    if heat is not None:
        _colorbar(fig, heat, 0.25, 1.15, "attention, relative\nto the map's maximum")
    return fig


def still_wrong(results: dict) -> list[dict]:
    """The cases both models get wrong (Figure 5), in the configured order."""
    return [row for row in _cases(results) if row["status"] == "still_wrong"]


@styled
def gradcam_compare(results: dict, evals: Evals) -> Figure:
    """Figure 5: baseline (top) against CutMix (bottom) Grad-CAM for the cases still wrong.

    Every map is a distribution (shares of its total) and all share one colour scale, so a map
    that spreads its attention is visibly flatter than one that fixates on a region.
    """
    rows = still_wrong(results)
    fig = new_figure(2 * PANEL_IN + 0.8)
    if not rows:
        return empty_figure(fig, "No case is still wrong after CutMix: there is nothing to compare.")
    panels = []  # (model, row, image, map) per panel; None map: placeholder
    for model in MODELS:
        for row in rows:
            test_id = int(row["id"])
            cam = find_cam(evals.get(model), test_id)
            panels.append(
                (model, row, find_image(evals, test_id), None if cam is None else normalise_sum(cam))
            )
    maps = [p[3] for p in panels if p[3] is not None]
    vmax = max((float(m.max()) for m in maps), default=1.0)
    axes = _case_axes(fig, len(rows), COMPARE_MARGINS, rows=2)
    heat = None
    for ax, (model, row, image, cam) in zip(axes.ravel(), panels, strict=True):
        if image is None or cam is None:
            placeholder(ax, f"#{row['id']}\n" + (NO_IMAGE if image is None else "no Grad-CAM map"))
        else:
            heat = show_heat(ax, image, cam, vmax=vmax)
        pred = row[f"{model}_prediction"]
        title = f"#{row['id']} {label(row['true_class'])}\n→ {label(pred)}\n{conf(row[f'{model}_confidence'])} confident"
        ax.set_title(title, fontsize=7, loc="left")
        if row is rows[0]:
            ax.set_ylabel(MODEL_LABEL[model], fontsize=8)
    if heat is not None:
        _colorbar(fig, heat, 0.4, 2.5, "share of the map's attention\nper layer4 cell (one scale)")
    return fig


# --- Figures 6, 7 and 8: confidence and classes -----------------------------------------------


@styled
def confidence_histograms(results: dict) -> Figure:
    """Figure 6: max-softmax confidence of wrong (left) and correct (right) predictions, both models."""
    hist = results["series"]["confidence_hist"]
    edges = 100 * np.asarray(hist["edges"], dtype=float)
    fig = new_figure(2.4)
    axes = panels(fig, 1, 2, Margins(wgap=0.65), sharex=True)[0]
    for ax, kind, title in zip(
        axes, ("wrong", "correct"), ("Wrong predictions", "Correct predictions"), strict=True
    ):
        for model in MODELS:
            counts = np.asarray(hist[model][kind], dtype=float)
            color = MODEL_COLOR[model]
            ax.stairs(counts, edges, fill=True, alpha=0.25, color=color)
            ax.stairs(counts, edges, color=color, linewidth=1.2, label=MODEL_LABEL[model])
        ax.set(title=title, xlabel="confidence (max softmax, %)", ylabel="test images", xlim=(0, 100))
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y")
    axes[1].legend(loc="upper left")  # the correct predictions leave that corner empty
    return fig


@styled
def wrong_by_threshold(results: dict) -> Figure:
    """Figure 7: wrong predictions at or above each confidence threshold, reductions labelled."""
    rows = results["tables"]["thresholds"]
    fig = new_figure(2.6)
    ax = panels(fig, margins=Margins(top=0.1))[0, 0]
    x = np.arange(len(rows))
    width = 0.38
    for k, model in enumerate(MODELS):
        counts = [r[model] for r in rows]
        bars = ax.bar(
            x + (k - 0.5) * width, counts, width, color=MODEL_COLOR[model], label=MODEL_LABEL[model]
        )
        ax.bar_label(bars, labels=[thousands(c) for c in counts], fontsize=6, padding=1)
    top = max((max(r["baseline"], r["cutmix"]) for r in rows), default=1) or 1
    for xi, r in zip(x, rows, strict=True):
        if r.get("reduction") is not None:
            height = max(r["baseline"], r["cutmix"])
            ax.text(
                xi, height + 0.1 * top, relchange(r["reduction"]), ha="center", fontsize=7, fontweight="bold"
            )
    ax.set_xticks(x, [f"≥ {100 * r['threshold']:.0f}%" for r in rows])
    ax.set(xlabel="confidence threshold (max softmax)", ylabel="wrong predictions at or above it")
    ax.set_ylim(0, 1.25 * top)
    ax.legend(loc="upper right", title="bold: change, CutMix vs baseline", title_fontsize=6.5)
    return fig


def _extremes(rows: list[dict], k: int) -> tuple[list[int], list[int]]:
    """Indices (in rows sorted by decreasing delta) of the k largest gains and the regressions.

    Every regressed class is labelled when there are at most k; else the k worst.
    """
    n = len(rows)
    gains = [i for i in range(min(k, n)) if rows[i]["delta"] > 0]
    losses = [i for i in range(n - 1, max(n - 1 - k, -1), -1) if rows[i]["delta"] < 0]
    return gains, losses


LABEL_STEP = 0.25  # of the axis width between extreme labels: room for "aquarium fish +33 pts"


@styled
def per_class_change(results: dict, label_k: int = 3) -> Figure:
    """Figure 8: accuracy change (CutMix − baseline) of every class, sorted; extremes labelled."""
    rows = sorted(results["tables"]["per_class"], key=lambda r: (-r["delta"], r["class"]))
    deltas = np.array([r["delta"] for r in rows], dtype=float)
    colors = [IMPROVED if d > 0 else REGRESSED if d < 0 else GREY for d in deltas]
    fig = new_figure(2.8)
    ax = panels(fig, margins=Margins(top=0.1, bottom=0.3))[0, 0]
    x = np.arange(len(rows))
    bars(ax, x, deltas, 0.8, color=colors)
    ax.axhline(0, color="black", linewidth=0.6)
    mean = float(results["claims"]["per_class.mean_delta"]["value"])
    ax.axhline(mean, color=GREY, linewidth=0.8, linestyle="--")
    ax.text(
        len(rows) - 1, mean, f"mean {points(mean)}", ha="right", va="bottom", fontsize=6.5, color="#555555"
    )
    top, bottom = float(deltas.max()), min(float(deltas.min()), 0.0)
    span = (top - bottom) or 1.0
    gains, losses = _extremes(rows, label_k)
    line = {"arrowstyle": "-", "color": "#555555", "linewidth": 0.5}
    for j, i in enumerate(gains):  # labels in the headroom above the tallest bars
        ax.annotate(
            f"{label(rows[i]['class'])} {points(rows[i]['delta'], 0)}",
            xy=(i, deltas[i]),
            xytext=(len(rows) * (0.06 + LABEL_STEP * j), top + 0.16 * span),
            fontsize=6.5,
            ha="left",
            va="center",
            arrowprops=line,
        )
    for j, i in enumerate(losses):  # labels below the axis, leftwards from the right end
        ax.annotate(
            f"{label(rows[i]['class'])} {points(rows[i]['delta'], 0)}",
            xy=(i, deltas[i]),
            xytext=(len(rows) * (0.94 - LABEL_STEP * j), bottom - 0.1 * span),
            fontsize=6.5,
            ha="right",
            va="center",
            arrowprops=line,
        )
    ax.set_xticks([])
    ax.set_xlim(-1, len(rows))
    ax.set_ylim(bottom - (0.16 if losses else 0.04) * span, top + 0.24 * span)
    ax.set(xlabel=f"the {len(rows)} classes, sorted by change", ylabel="accuracy change (points)")
    ax.grid(True, axis="y")
    legend = [Patch(color=IMPROVED, label="improved"), Patch(color=REGRESSED, label="regressed")]
    if (deltas == 0).any():
        legend.append(Patch(color=GREY, label="unchanged"))
    ax.legend(handles=legend, loc="upper right")
    return fig
