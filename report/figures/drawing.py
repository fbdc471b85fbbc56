"""Drawing the report's figures in worker processes while the caller goes on.

    drawing = Drawing(results, evals)     # forks the workers and returns at once
    drawing.svg("training_baseline")      # waits for that figure
    drawing.all()                         # waits for every one: {name: SVG text}, report order

build.py prepares the PDF meanwhile; WeasyPrint asks for each figure when it reaches it.
This module imports neither matplotlib nor the figure functions (report.figures.registry): the
workers are forked first and import them themselves, so that the caller goes straight on to its
own work (importing matplotlib takes 0.8 s here) while the workers import and draw on the other
core.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from pipeline.parentdeath import die_with_parent
from report.outline import FIGURE_NAMES

Evals = Mapping[str, Mapping[str, Any]]
WORKER_NICENESS = 5  # the workers yield a contested core to the caller, whose work is the longer

_JOB: tuple[dict, Evals] | None = None  # the inputs a forked worker inherits (nothing is pickled)
_PARENT: int | None = None  # the process that forked the workers


def _start_worker() -> None:
    die_with_parent(_PARENT, signal.SIGKILL)  # a worker has nothing to finish: it ends at once
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's SIGTERM handler is the parent's
    os.nice(WORKER_NICENESS)
    # A worker draws a few figures and exits: cyclic garbage collection would only cost it time
    # (7% of drawing the figures, counted with gc.callbacks); its memory goes when it exits.
    gc.disable()


def _draw_in_worker(name: str) -> str:
    from report.figures.registry import draw_svg

    assert _JOB is not None, "Drawing sets _JOB before forking"
    return draw_svg(name, *_JOB)


def can_fork() -> bool:
    """Whether figures can be drawn in forked workers: a platform with fork, and torch not loaded
    (forking a process that has started torch's OpenMP thread pools can hang the children)."""
    return "fork" in mp.get_all_start_methods() and "torch" not in sys.modules


class Drawing:
    """Every figure of the report as SVG text, drawn in forked worker processes.

    Figures are independent, so `workers` processes (default: one per CPU) draw them in report
    order where `can_fork()`; elsewhere each figure is drawn when it is first asked for. The SVG
    is the same either way. `on_complete` is called once, in the caller's thread, with all the
    figures, as soon as they are all in hand. `evals` may lack a model (or be empty): the
    figures that need its arrays draw placeholders.
    """

    def __init__(
        self,
        results: dict[str, Any],
        evals: Evals,
        workers: int | None = None,
        on_complete: Callable[[dict[str, str]], object] | None = None,
    ) -> None:
        global _JOB, _PARENT
        self._results, self._evals, self._on_complete = results, evals, on_complete
        self._drawn: dict[str, str] = {}
        self._pending: dict[str, Future] = {}
        self._pool: ProcessPoolExecutor | None = None
        workers = min(len(FIGURE_NAMES), os.cpu_count() or 1) if workers is None else workers
        if workers > 1 and can_fork():
            _JOB, _PARENT = (results, evals), os.getpid()
            try:  # the first submit forks every worker, with _JOB in its memory
                self._pool = ProcessPoolExecutor(
                    workers, mp_context=mp.get_context("fork"), initializer=_start_worker
                )
                self._pending = {name: self._pool.submit(_draw_in_worker, name) for name in FIGURE_NAMES}
            finally:
                _JOB = None

    def svg(self, name: str) -> str:
        """The SVG text of one figure, waiting for it if it is still being drawn."""
        if name not in FIGURE_NAMES:
            raise KeyError(f"no figure is called {name!r}; the figures are {', '.join(FIGURE_NAMES)}")
        if name not in self._drawn:
            future = self._pending.pop(name, None)
            if future is None:
                from report.figures.registry import draw_svg

                self._drawn[name] = draw_svg(name, self._results, self._evals)
            else:
                self._drawn[name] = future.result()
            if len(self._drawn) == len(FIGURE_NAMES):
                self._complete()
        return self._drawn[name]

    def all(self) -> dict[str, str]:
        """{name: SVG text} of every figure, in report order."""
        return {name: self.svg(name) for name in FIGURE_NAMES}

    def close(self) -> None:
        """Stop the workers (figures not yet drawn are dropped); safe to call more than once."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _complete(self) -> None:
        self.close()
        callback, self._on_complete = self._on_complete, None
        if callback is not None:
            callback({name: self._drawn[name] for name in FIGURE_NAMES})
