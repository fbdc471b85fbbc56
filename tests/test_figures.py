"""Figures: each function on the fixture results returns a Figure with the expected panels and
something drawn in them; edge cases draw placeholders instead of failing; inputs stay unchanged."""

from __future__ import annotations

import copy
import subprocess
import sys

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from report.figures import beyond as B
from report.figures import study as F
from report.figures.arrays import find_cam, find_image
from report.figures.cam import normalise_max, normalise_sum, upsample_bilinear
from report.figures.registry import BY_NAME, FIGURES
from report.figures.style import RC
from report.figures.svg import figure_to_svg
from report.outline import FIGURE_NAMES
from tests.fixtures.make_fixture import fixture_results, fixture_svgs, make_evals


@pytest.fixture
def results() -> dict:
    return fixture_results()


@pytest.fixture
def evals(results) -> dict:
    return make_evals(results)


# figure name -> number of Axes the fixture gives (colour bars are Axes too)
EXPECTED_AXES = {
    "training_baseline": 2,
    "failure_cases": 5,
    "gradcam_failures": 5 + 1,
    "training_cutmix": 2,
    "gradcam_compare": 2 * 3 + 1,  # two models x three cases still wrong, one shared colour bar
    "confidence_histograms": 2,
    "wrong_by_threshold": 1,
    "per_class_change": 1,
    "reliability": 4,
    "risk_coverage": 1,
    "seed_dots": 4,  # test accuracy, train–val gap, confident errors, ECE
    "ablation_curves": 2,  # loss and accuracy
    "attention_spread": 2,
    "gallery": 8,
}


def _draw(name, results, evals) -> Figure:
    draw, needs_evals = BY_NAME[name]
    return draw(results, evals) if needs_evals else draw(results)


def _texts(fig: Figure) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text")))


def _drawn(ax) -> int:
    return len(ax.lines) + len(ax.patches) + len(ax.images) + len(ax.collections) + len(ax.texts)


def test_every_figure_of_the_outline_has_its_expected_axes():
    assert set(EXPECTED_AXES) == set(FIGURE_NAMES)


@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_figure_has_expected_axes_and_artists(name, results, evals):
    fig = _draw(name, results, evals)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == EXPECTED_AXES[name]
    assert all(_drawn(ax) > 0 for ax in fig.axes if ax.get_label() != "<colorbar>")


def _boxes(fig: Figure) -> list[tuple[int, object, str]]:
    """(index of its Axes, window extent, text) of every visible, non-empty text of the figure."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    with mpl.rc_context(RC):
        fig.draw(renderer)
    out = []
    for k, ax in enumerate(fig.axes):
        for t in ax.findobj(match=Text):
            if t.get_visible() and t.get_text().strip() and t.axes is not None:
                # Text.get_window_extent: an annotation's own text, without its arrow
                out.append((k, Text.get_window_extent(t, renderer), t.get_text()))
    return out


def _overlap(a, b, slack: float = 0.5) -> bool:
    return a.x0 + slack < b.x1 and b.x0 + slack < a.x1 and a.y0 + slack < b.y1 and b.y0 + slack < a.y1


# The longest of CIFAR-100's class names, as the figures print them: the labels' worst case.
LONG_NAMES = ("aquarium_fish", "sweet_pepper", "pickup_truck", "willow_tree", "caterpillar")


def with_long_names(results: dict) -> dict:
    """The results with every class named in the cases and the gallery by a long name."""
    names = iter(LONG_NAMES * 100)
    for table in ("cases", "gallery"):
        for row in results["tables"][table]:
            for key in ("true_class", "baseline_prediction", "cutmix_prediction"):
                row[key] = next(names)
    for row in results["tables"]["per_class"]:
        row["class"] = next(names)
    return results


@pytest.mark.parametrize("long_names", [False, True], ids=["fixture", "long-names"])
@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_figure_text_stays_inside_and_clear_of_other_panels(name, long_names, results, evals):
    """The fixed margins (report.figures.style.Margins) leave room for every label: none is clipped by
    the figure's edge, and none runs into another panel or another panel's labels."""
    fig = _draw(name, with_long_names(results) if long_names else results, evals)
    boxes = _boxes(fig)
    assert boxes
    edge = fig.bbox
    for _, box, text in boxes:
        assert edge.x0 - 0.5 <= box.x0 and box.x1 <= edge.x1 + 0.5, f"{text!r} leaves the figure"
        assert edge.y0 - 0.5 <= box.y0 and box.y1 <= edge.y1 + 0.5, f"{text!r} leaves the figure"
    panels = [ax.get_window_extent() for ax in fig.axes]
    for k, box, text in boxes:
        for j, panel in enumerate(panels):
            assert j == k or not _overlap(box, panel), f"{text!r} runs into panel {j}"
        for other_k, other, other_text in boxes:
            if (other_k, other_text) != (k, text):
                assert not _overlap(box, other), f"{text!r} runs into {other_text!r}"


def test_figures_do_not_change_their_inputs(results, evals):
    before_results, before_evals = copy.deepcopy(results), copy.deepcopy(evals)
    for name in FIGURE_NAMES:
        _draw(name, results, evals)
    assert results == before_results
    for m in evals:
        for k in evals[m]:
            np.testing.assert_array_equal(evals[m][k], before_evals[m][k])


def test_render_figures_gives_deterministic_svg():
    svgs = fixture_svgs()
    assert list(svgs) == list(FIGURE_NAMES)
    assert all(s.lstrip().startswith("<?xml") and "<svg" in s for s in svgs.values())
    again = figure_to_svg(F.per_class_change(fixture_results()))
    assert again == svgs["per_class_change"]  # no date, stable ids: equal inputs, equal bytes


def test_without_eval_arrays_every_image_panel_is_a_placeholder(results):
    for name, _, needs_evals in FIGURES:
        if needs_evals:
            fig = _draw(name, results, {})
            assert not any(ax.images for ax in fig.axes), name


def test_cases_not_evaluated_or_not_failures_or_without_image(results, evals):
    cases = results["tables"]["cases"]
    cases[0].update(status="not_evaluated", evaluated=False)
    cases[1].update(status="not_a_baseline_failure", baseline_prediction=cases[1]["true_class"])
    for arrays in evals.values():  # drop the third case's image
        keep = arrays["shown_ids"] != cases[2]["id"]
        arrays["shown_ids"], arrays["shown_images"] = arrays["shown_ids"][keep], arrays["shown_images"][keep]
    text = _texts(F.failure_cases(results, evals))
    assert "not evaluated" in text and "baseline correct" in text and "image not" in text
    text = _texts(F.gradcam_failures(results, evals))
    assert "not evaluated" in text and "not a baseline" in text and "image not" in text


def test_no_case_still_wrong_draws_one_placeholder(results, evals):
    for row in results["tables"]["cases"]:
        row["status"] = "fixed"
    fig = F.gradcam_compare(results, evals)
    assert len(fig.axes) == 1 and "nothing to compare" in _texts(fig)


def test_empty_cases_gallery_and_history(results, evals):
    results["tables"]["cases"] = []
    results["tables"]["gallery"] = []
    results["series"]["history"]["baseline"] = []
    for draw in (F.failure_cases, F.gradcam_failures, F.gradcam_compare, B.gallery):
        assert len(draw(results, evals).axes) == 1
    assert "no training history" in _texts(F.training_baseline(results))


def test_missing_reduction_and_empty_bins(results):
    results["tables"]["thresholds"][-1]["reduction"] = None
    assert len(F.wrong_by_threshold(results).axes) == 1
    results["series"]["reliability"]["cutmix"]["after"]["accuracy"][3] = None
    assert len(B.reliability(results).axes) == 4


def test_per_class_labels_extremes(results):
    text = _texts(F.per_class_change(results))
    assert "otter +33" in text and "oak tree −2" in text and "maple tree −1" in text


# --- arrays and maps ---------------------------------------------------------------------------


def test_upsample_bilinear_matches_align_corners_false():
    cam = np.array([[0.0, 1.0], [2.0, 3.0]])
    up = upsample_bilinear(cam, 4)
    np.testing.assert_allclose(up[0], [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(up[:, 0], [0.0, 0.5, 1.5, 2.0])
    np.testing.assert_allclose(upsample_bilinear(np.full((4, 4), 0.7), 32), np.full((32, 32), 0.7))
    assert cam.tolist() == [[0.0, 1.0], [2.0, 3.0]]  # the input is untouched


def test_normalisations():
    cam = np.array([[0.0, 2.0], [1.0, -1.0]])
    np.testing.assert_allclose(normalise_max(cam), [[0, 1], [0.5, 0]])
    np.testing.assert_allclose(normalise_sum(cam), [[0, 2 / 3], [1 / 3, 0]])
    np.testing.assert_allclose(normalise_sum(np.zeros((2, 2))), np.full((2, 2), 0.25))


def test_lookups_in_eval_arrays(results):
    arrays = make_evals(results)["baseline"]
    assert arrays["shown_images"].dtype == np.uint8 and arrays["shown_images"].shape[1:] == (32, 32, 3)
    assert find_image({"baseline": arrays}, 3640).shape == (32, 32, 3)
    assert find_image({"baseline": arrays}, 1) is None
    assert find_cam(arrays, 3640).shape == (4, 4)
    assert find_cam(arrays, 1) is None and find_cam(None, 3640) is None


def test_report_never_imports_torch():
    code = (
        "import sys; import report.render, report.figures.registry, report.figures.drawing, "
        "report.context, report.filters; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _box(points: np.ndarray) -> tuple[float, ...]:
    """(left, bottom, right, top) of some corners, rounded."""
    return tuple(np.round([*points.min(axis=0), *points.max(axis=0)], 9).tolist())


def test_bars_cover_what_ax_bar_covers_one_path_per_colour():
    from report.figures.panels import bars

    x = np.arange(6.0)
    heights = np.array([3.0, 0.0, -2.0, np.nan, 1.5, 4.0])
    bottom = np.array([0.0, 1.0, 0.0, 0.0, 2.0, -1.0])
    colors = ["#111111", "#222222", "#111111", "#111111", "#222222", "#111111"]
    fig = Figure()
    ax = fig.add_subplot()
    expected = sorted(
        (_box(r.get_bbox().get_points()), c)
        for r, c in zip(ax.bar(x, heights, 0.6, bottom=bottom), colors, strict=True)
        if np.isfinite(r.get_height())
    )
    patches = bars(ax, x, heights, 0.6, bottom=bottom, color=colors, label="bars")
    got = []
    for patch in patches:
        for corners in patch.get_path().to_polygons(closed_only=False):
            got.append((_box(corners[:4]), mpl.colors.to_hex(patch.get_facecolor())))
    assert sorted(got) == expected
    assert [p.get_label() for p in patches] == ["bars", ""], "one legend entry, not one per colour"

    assert len(ax.patches) == len(x) + 2  # ax.bar's six Rectangles, then two paths: one per colour


def test_photos_are_embedded_at_their_own_32_pixels_and_stay_sharp():
    """A CIFAR image goes into the SVG as its 32 x 32 pixels, scaled by the SVG and drawn
    pixelated (browsers and WeasyPrint's PDF alike), not resampled and then smoothed."""
    svg = fixture_svgs()["failure_cases"]
    photos = [tag for tag in svg.split("<image")[1:] if 'width="32" height="32"' in tag]
    assert len(photos) == 5
    assert all("image-rendering:pixelated" in tag.split("/>")[0] for tag in photos)
