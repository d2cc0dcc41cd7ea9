"""The executor seam: `Executor.run(tasks, on_event) -> list[CellResult]`, and a cell run that
turns any error into a failed result so the other cells go on."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from typing import Protocol

from bench.core.errors import BenchError
from bench.execution.cell_runner import run_cell
from bench.execution.task import CellEvent, CellResult, CellTask

EventSink = Callable[[CellEvent], None]


class Executor(Protocol):
    """Runs cells and relays their progress."""

    def run(self, tasks: Sequence[CellTask], on_event: EventSink) -> list[CellResult]:
        """Run every task; one result per task."""
        ...


def run_cell_safely(task: CellTask, on_event: EventSink) -> CellResult:
    """run_cell, with any error turned into a failed CellResult (one line, last frame)."""
    try:
        return run_cell(task, on_event)
    except BenchError as err:
        return CellResult.failed(task.cell.name, str(err))
    except Exception as err:  # a bug or crash in one cell must not stop the others
        where = traceback.extract_tb(err.__traceback__)[-1]
        line = f"{type(err).__name__}: {err} (at {where.filename}:{where.lineno})"
        return CellResult.failed(task.cell.name, line)
