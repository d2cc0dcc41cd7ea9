"""Progress of a suite: a tqdm bar on a terminal, one line per finished cell otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

from bench.execution.task import CellEvent


class SuiteProgress:
    """Counts trials and cells across workers; shows cells done, best so far and ETA.

    Args:
        cells: number of cells in the suite.
        total_trials: trials still to run.
        stream: where to draw (stderr by default).
    """

    def __init__(self, cells: int, total_trials: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.cells = cells
        self.cells_done = 0
        self.best: float | None = None
        self._start = time.perf_counter()
        self.total = total_trials
        self.trials_done = 0
        self.bar = tqdm(total=total_trials, unit="trial", file=self.stream, disable=None,
                        dynamic_ncols=True, mininterval=0.5)

    def __call__(self, event: CellEvent) -> None:
        """Take one event from any worker."""
        step = 0 if event.finished else event.new
        self.trials_done += step
        if event.best is not None:
            self.best = event.best if self.best is None else max(self.best, event.best)
        if event.finished:
            self.cells_done += 1
        if self.bar.disable:
            if event.finished:
                self._line(event)
            return
        self.bar.update(step)
        self.bar.set_postfix_str(self._postfix(), refresh=False)

    def _postfix(self) -> str:
        best = "-" if self.best is None else f"{self.best:.4f}"
        return f"cells {self.cells_done}/{self.cells} best {best}"

    def _line(self, event: CellEvent) -> None:
        elapsed = time.perf_counter() - self._start
        rate = self.trials_done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.trials_done) / rate if rate > 0 else 0.0
        best = "-" if event.best is None else f"{event.best:.4f}"
        print(f"[{self.cells_done}/{self.cells} cells, {self.trials_done}/{self.total} trials, "
              f"ETA {left:.0f}s] {event.cell}: {event.done} trials, best {best}",
              file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the bar."""
        self.bar.close()
