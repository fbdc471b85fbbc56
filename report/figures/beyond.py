"""Figures for the analyses beyond the study: calibration, selective prediction, the gallery of
confidently wrong images, and how widely Grad-CAM attention spreads.

Same contract as `report.figures.study`: functions from results (and eval arrays) to a Figure.
Calibration follows Guo et al. (2017), "On Calibration of Modern Neural Networks"; the
risk–coverage curve follows Geifman & El-Yaniv (2017), "Selective Classification for Deep
Neural Networks".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from pipeline.config import MODELS, AnalysisConfig
from report.figures.arrays import find_image
from report.figures.panels import bars, empty_figure, placeholder, show_image
from report.figures.style import MODEL_COLOR, MODEL_LABEL, PANEL_IN, Margins, new_figure, panels, styled
from report.filters import conf, fraction_pct, label, num, pct

Evals = Mapping[str, Mapping[str, np.ndarray]]
PLOT_POINTS = 400  # points kept per risk–coverage curve: enough for the eye, small SVGs


def _claim(results: dict, name: str) -> float | None:
    claim = results["claims"].get(name)
    return None if claim is None else claim["value"]


def _as_fraction(values: list) -> np.ndarray:
    """Series values as fractions; None (an empty bin) becomes NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@styled
def reliability(results: dict) -> Figure:
    """Reliability diagrams: accuracy against confidence per bin, before and after temperature
    scaling (columns), one row per model. A calibrated model follows the diagonal."""
    series = results["series"]["reliability"]
    fig = new_figure(5.2)
    # two-line titles; square panels (equal aspect) centred in their cells
    axes = panels(fig, 2, 2, Margins(top=0.4, hgap=0.55), sharex=True, sharey=True)
    for row, model in zip(axes, MODELS, strict=True):
        for ax, when in zip(row, ("before", "after"), strict=True):
            bins = series[model][when]
            acc = 100 * _as_fraction(bins["accuracy"])
            confidence = 100 * _as_fraction(bins["confidence"])
            n = len(acc)
            centres = (np.arange(n) + 0.5) * 100 / n
            bars(
                ax,
                centres,
                np.nan_to_num(acc),
                100 / n,
                color=MODEL_COLOR[model],
                alpha=0.8,
                label="accuracy",
            )
            gap = np.nan_to_num(confidence - acc)
            bars(
                ax,
                centres,
                gap,
                100 / n,
                bottom=np.nan_to_num(acc),
                color="#DDDDDD",
                edgecolor="#555555",
                linewidth=0.4,
                label="gap to confidence",
            )
            ax.plot([0, 100], [0, 100], color="black", linewidth=0.8, linestyle="--")
            suffix = "" if when == "before" else "_ts"
            ece = _claim(results, f"{model}.ece{suffix}")
            temp = _claim(results, f"{model}.temperature")
            title = f"{MODEL_LABEL[model]}, {'before' if when == 'before' else 'after'} temperature scaling"
            detail = f"ECE {pct(ece, 1)}" + ("" if when == "before" else f", T = {num(temp)}")
            ax.set_title(f"{title}\n{detail}")
            ax.set_xlim(0, 100)
            ax.set_ylim(0, 100)
            ax.set_aspect("equal")
    for ax in axes[1]:
        ax.set_xlabel("confidence (%)")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (%)")
    axes[0, 0].legend(loc="upper left")
    return fig


def _thin(x: np.ndarray, y: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `keep` evenly spaced points of a curve, its ends included."""
    if len(x) <= keep:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, keep).round().astype(int))
    return x[idx], y[idx]


@styled
def risk_coverage(results: dict, guardrail: float | None = None) -> Figure:
    """Risk (error rate among accepted images) against coverage (share accepted), accepting the
    most confident first; the guardrail threshold's operating point marked on each curve."""
    guardrail = AnalysisConfig().guardrail if guardrail is None else guardrail
    series = results["series"]["risk_coverage"]
    fig = new_figure(3.3, width_in=4.6)
    ax = panels(fig, margins=Margins(right=0.16, top=0.6))[0, 0]  # the legend sits above the curves
    for model in MODELS:
        cov, risk = _thin(
            _as_fraction(series[model]["coverage"]), _as_fraction(series[model]["risk"]), PLOT_POINTS
        )
        aurc = _claim(results, f"{model}.aurc")
        color = MODEL_COLOR[model]
        ax.plot(100 * cov, 100 * risk, color=color, label=f"{MODEL_LABEL[model]} (AURC {num(aurc, 3)})")
        coverage = _claim(results, f"{model}.guardrail_coverage")
        accuracy = _claim(results, f"{model}.guardrail_accuracy")
        if coverage is not None and accuracy is not None:
            ax.plot(coverage, 100 - accuracy, marker="o", color=color, markeredgecolor="black", markersize=5)
            ax.annotate(
                f"≥ {fraction_pct(guardrail)}",
                xy=(coverage, 100 - accuracy),
                xytext=(6, -3),  # right of the dot: left of it, near 0 % coverage, it met the tick labels
                textcoords="offset points",
                ha="left",
                va="top",
                fontsize=6.5,
                color=color,
            )
    ax.plot(
        [],
        [],
        "o",
        color="white",
        markeredgecolor="black",
        markersize=5,
        label=f"accept only confidence ≥ {fraction_pct(guardrail)}",
    )
    ax.set(xlabel="coverage: test images accepted (%)", ylabel="risk: error among accepted (%)")
    ax.set_xlim(0, 100)
    ax.set_ylim(bottom=0)
    ax.grid(True)
    # Above the axes, not on them: no corner of the plot is free of curves for every pair of models.
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), borderaxespad=0, frameon=False)
    return fig


@styled
def gallery(results: dict, evals: Evals, columns: int = 4) -> Figure:
    """The baseline's most confidently wrong images (one per predicted class), with both models' answers."""
    rows = results["tables"]["gallery"]
    n_rows = max(1, -(-len(rows) // columns))
    fig = new_figure(n_rows * (PANEL_IN + 0.55))
    if not rows:
        return empty_figure(fig, "no confidently wrong predictions to show")
    # three-line titles at 6.5 pt above each image, as wide as "baseline: aquarium fish 99.9%"
    margins = Margins(left=0.05, right=0.3, top=0.45, bottom=0.1, wgap=0.3, hgap=0.5)
    axes = panels(fig, n_rows, columns, margins).ravel()
    for ax, row in zip(axes, rows, strict=False):
        image = find_image(evals, int(row["id"]))
        if image is None:
            placeholder(ax, "image not\nstored")
        else:
            show_image(ax, image)
        mark = "✓" if row["cutmix_correct"] else "✗"
        ax.set_title(
            f"#{row['id']}  true: {label(row['true_class'])}\n"
            f"baseline: {label(row['baseline_prediction'])} {conf(row['baseline_confidence'])}\n"
            f"CutMix: {label(row['cutmix_prediction'])} {conf(row['cutmix_confidence'])} {mark}",
            fontsize=6.5,
            loc="left",
        )
    for ax in axes[len(rows) :]:
        ax.set_axis_off()
    return fig


@styled
def attention_spread(results: dict) -> Figure:
    """How widely the predicted-class Grad-CAM maps spread (normalised entropy, 1 = uniform):
    all test images (left) and the wrong predictions only (right), both models, as shares."""
    series = results["series"]["attention"]
    edges = np.asarray(series["edges"], dtype=float)
    fig = new_figure(2.4)
    axes = panels(fig, 1, 2, Margins(right=0.15, wgap=0.45), sharex=True, sharey=True)[0]
    for ax, kind, title in zip(axes, ("all", "wrong"), ("All test images", "Wrong predictions"), strict=True):
        for model in MODELS:
            counts = np.asarray(series[model][kind], dtype=float)
            share = 100 * counts / counts.sum() if counts.sum() > 0 else counts
            color = MODEL_COLOR[model]
            ax.stairs(share, edges, fill=True, alpha=0.25, color=color)
            ax.stairs(share, edges, color=color, linewidth=1.2, label=MODEL_LABEL[model])
            mean = _claim(results, f"{model}.attention_entropy" + ("" if kind == "all" else "_wrong"))
            if mean is not None:
                ax.axvline(mean, color=color, linestyle="--", linewidth=0.8)
        ax.set(title=title, xlabel="normalised entropy of the Grad-CAM map", ylabel="share of images (%)")
        ax.set_xlim(edges[0], edges[-1])
        ax.grid(True, axis="y")
    axes[0].legend(loc="upper left", title="dashed: mean", title_fontsize=6.5)
    axes[1].set_ylabel("")
    axes[1].tick_params(labelleft=True)
    return fig
