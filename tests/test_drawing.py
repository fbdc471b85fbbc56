"""Drawing figures in worker processes: the same SVG as drawing them here, each figure handed
over once, every figure saved once, a worker's error reaching the caller."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from report.figures import registry
from report.figures.drawing import Drawing
from report.outline import FIGURE_NAMES
from report.render import ROOT
from tests.fixtures.make_fixture import fixture_results, make_evals


def test_the_figures_are_drawn_in_the_outline_order():
    assert tuple(name for name, _, _ in registry.FIGURES) == FIGURE_NAMES


def test_every_figure_function_is_in_the_outline():
    """A function wrapped by `styled` draws a figure: none may be left out of the report."""
    drawn = {
        name
        for module in registry.DRAWN_IN
        for name, value in vars(module).items()
        if callable(value) and hasattr(value, "__wrapped__") and value.__module__ == module.__name__
    }
    assert drawn == set(FIGURE_NAMES)


def test_on_complete_gets_every_figure_once_in_report_order():
    results = fixture_results()
    calls = []
    drawing = Drawing(results, make_evals(results), workers=1, on_complete=calls.append)
    for name in reversed(FIGURE_NAMES):  # asked for in another order than drawn
        assert drawing.svg(name).lstrip().startswith("<?xml")
        assert len(calls) == (1 if name == FIGURE_NAMES[0] else 0)
    assert drawing.all() == calls[0] and list(calls[0]) == list(FIGURE_NAMES)
    assert len(calls) == 1
    drawing.close()
    drawing.close()


def test_an_unknown_figure_is_named_in_the_error():
    results = fixture_results()
    with pytest.raises(KeyError, match="no figure is called 'figure_9'"):
        Drawing(results, make_evals(results), workers=1).svg("figure_9")


def test_workers_draw_what_this_process_draws():
    """In a fresh interpreter (workers fork only where torch is not loaded): two forked workers
    give the same bytes as drawing here, and a figure that fails in a worker fails the caller."""
    code = textwrap.dedent(
        """
        from report.figures.drawing import Drawing
        from tests.fixtures.make_fixture import fixture_results, make_evals

        results = fixture_results()
        evals = make_evals(results)
        parallel = Drawing(results, evals, workers=2)
        assert parallel._pool is not None, "no workers were forked"
        drawn = parallel.all()
        assert parallel._pool is None, "the workers outlived the drawing"
        assert drawn == Drawing(results, evals, workers=1).all()

        del results["series"]["history"]
        broken = Drawing(results, evals, workers=2)
        try:
            broken.svg("training_baseline")
        except KeyError as error:
            assert "history" in str(error)
        else:
            raise AssertionError("a worker's error did not reach the caller")
        finally:
            broken.close()
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
