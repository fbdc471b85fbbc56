"""Progress over the grid's trainings: one line per epoch naming the run, with the time left.

The estimate is what this process measured: the mean epoch so far times the epochs left in this
run and in the runs after it, plus the mean evaluation so far for every run still to evaluate
(until one is measured, the line says that evaluations come on top).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

OnEpoch = Callable[[dict], None]  # pipeline/train.py's hook, named here without importing torch


def duration(seconds: float) -> str:
    """A time left as a person reads it: 50 s, 12 min, 2 h 05 min."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def epoch_line(name: str, epochs: int, say: Callable[[str], object]) -> OnEpoch:
    """The on_epoch hook of one run trained on its own (a job of the grid): one line per epoch."""

    def on_epoch(row: dict) -> None:
        say(f"{_epoch_text(name, epochs, row)}")

    return on_epoch


def _epoch_text(name: str, epochs: int, row: dict) -> str:
    return (
        f"{'train ' + name:<22} epoch {row['epoch']}/{epochs}: "
        f"val acc {row['val_acc']:.1%}, {row['seconds']:.0f} s"
    )


class GridProgress:
    def __init__(self, runs: list[tuple[str, int]], say: Callable[[str], object]) -> None:
        """`runs`: each run's name and number of epochs, in the order they are trained."""
        self.epochs = dict(runs)
        self.order = [name for name, _ in runs]
        self.say = say
        self.epoch_seconds: list[float] = []
        self.eval_seconds: list[float] = []
        self.evaluated_names: set[str] = set()

    def epoch_of(self, name: str) -> OnEpoch:
        """The on_epoch hook for training run `name` (pipeline/train.py): says where the grid stands."""

        def on_epoch(row: dict) -> None:
            self.epoch_seconds.append(row["seconds"])
            self.say(f"{_epoch_text(name, self.epochs[name], row)}; {self.left(name, row['epoch'])}")

        return on_epoch

    @contextlib.contextmanager
    def evaluating(self, name: str) -> Iterator[None]:
        """Around the run's evaluation: timed, for the estimate."""
        start = time.perf_counter()
        yield
        self.eval_seconds.append(time.perf_counter() - start)
        self.evaluated_names.add(name)

    def left(self, name: str, epoch: int) -> str:
        """The estimate of the time left for the whole grid, after `epoch` of run `name`."""
        later = self.order[self.order.index(name) + 1 :]
        epochs = self.epochs[name] - epoch + sum(self.epochs[n] for n in later)
        seconds = epochs * sum(self.epoch_seconds) / len(self.epoch_seconds)
        runs = f"{len(later) + 1} of {len(self.order)} runs to finish"
        if not self.eval_seconds:
            return f"grid: about {duration(seconds)} of training left, and the evaluations ({runs})"
        to_evaluate = len(later) + 1 - (name in self.evaluated_names)
        seconds += to_evaluate * sum(self.eval_seconds) / len(self.eval_seconds)
        return f"grid: about {duration(seconds)} left ({runs})"
