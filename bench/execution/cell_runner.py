"""Run one cell: the prelude every cell shares, then the trial loop its settings pick.

The dispatch table `CELL_KINDS` maps each kind of cell (serial, threads, batched, replay) to
how its study is opened and which trial loop runs it; a replay cell runs on K simulated
workers (`bench.execution.simulated`, K = 1 by default) in memory and is copied to the
storage in one write at the end, each trial's simulated start and end as its datetimes.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import optuna

from bench.core.attrs import GRID_EXHAUSTED_AFTER, REPLAY_BEST, REPLAY_COMPLETE, TRIAL_ATTR
from bench.execution.loops import LoopEnd, LoopRun, batched_trials, serial_trials, threaded_trials
from bench.execution.prelude import (
    OpenedStudy,
    open_replay_study,
    open_stored_study,
    sampler_options,
    set_strategies,
)
from bench.execution.simulated import simulated_trials
from bench.execution.task import CellEvent, CellResult, CellTask
from bench.execution.trials import best_value
from bench.objectives.base import Objective, build_objective
from bench.results.rows import study_table_rows
from bench.spec.cells import Cell
from bench.storage.backends import open_storage
from bench.storage.heartbeats import heartbeat_of
from bench.storage.studies import copy_finished_study

REPLAY_EVENT_EVERY = 25  # replay trials take microseconds: report progress in steps of this


@dataclass(frozen=True)
class CellKind:
    """How one kind of cell opens its study and runs its trials.

    Attributes:
        open: the prelude's study opener (stored and resumable, or in memory for replay).
        loop: the trial loop.
        in_memory: trials run on an in-memory study that is copied to the storage at the end.
    """

    open: Callable[[CellTask, Objective, optuna.storages.BaseStorage], OpenedStudy]
    loop: Callable[[LoopRun], LoopEnd]
    in_memory: bool = False


CELL_KINDS: dict[str, CellKind] = {
    "serial": CellKind(open_stored_study, serial_trials),
    "threads": CellKind(open_stored_study, threaded_trials),
    "batched": CellKind(open_stored_study, batched_trials),
    "replay": CellKind(open_replay_study, simulated_trials, in_memory=True),
}


def cell_kind(cell: Cell, objective: Objective) -> str:
    """The kind of a cell: replay for a simulated objective (K simulated workers, one by
    default), else by its trials in parallel and whether they train as one batch."""
    if objective.time_simulated:
        return "replay"
    if cell.trials_in_parallel > 1:
        return "batched" if cell.batch_trials else "threads"
    return "serial"


def _ignore(_event: CellEvent) -> None:
    pass


def run_cell(task: CellTask, on_event: Callable[[CellEvent], None] | None = None) -> CellResult:
    """Bring one cell to its budget, resuming whatever is stored.

    Args:
        task: the cell and its storage.
        on_event: receives the cell's progress events (after every trial, or every
            REPLAY_EVENT_EVERY replayed trials) and a last one when it is finished.
    """
    start = time.perf_counter()
    cell = task.cell
    emit = on_event or _ignore
    storage = open_storage(task.storage_url, heartbeat=True)
    objective = build_objective(cell.objective, cell.device, cell.seed,
                                Path(task.data_root) if task.data_root else None)
    kind = CELL_KINDS[cell_kind(cell, objective)]
    opened = kind.open(task, objective, storage)
    if opened.study is None:  # stored complete
        emit(CellEvent(cell.name, opened.done, cell.trials, opened.best, finished=True))
        return CellResult(cell.name, opened.done, 0, opened.best, time.perf_counter() - start)
    study = opened.study
    options = sampler_options(cell)
    set_strategies(study, cell, objective, opened.session, options)
    if heartbeat_of(storage) is not None:  # the harness beats itself around ask and tell
        warnings.filterwarnings("ignore", "Heartbeat of storage is supposed", UserWarning)
    held: dict[int, dict[str, Any]] | None = {} if kind.in_memory else None
    every = REPLAY_EVENT_EVERY if kind.in_memory else 1
    times: dict[int, tuple[float, float]] = {}
    origin = datetime.now()
    end = kind.loop(LoopRun(study, objective, cell, opened.done, emit, held, every, times))
    if end.grid_exhausted:
        study.set_user_attr(GRID_EXHAUSTED_AFTER, end.done)
    best = best_value(study)
    rows = None
    if held is not None:  # the completion mark goes last
        written = copy_finished_study(
            study, storage, {REPLAY_BEST: best, REPLAY_COMPLETE: cell.trials},
            {n: {TRIAL_ATTR: a} for n, a in held.items()},
            {n: (origin + timedelta(seconds=a), origin + timedelta(seconds=b))
             for n, (a, b) in times.items()})
        rows = study_table_rows(study.study_name, study.user_attrs, written)
        emit(CellEvent(cell.name, end.done, cell.trials, best, new=end.ran % every))
    emit(CellEvent(cell.name, end.done, cell.trials, best, finished=True))
    return CellResult(cell.name, end.done, end.ran, best, time.perf_counter() - start,
                      rows=rows)
