"""Run one cell: its shared prelude, then the trial loop its settings pick."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

from bench.core.attrs import counts_toward_budget
from bench.execution.loops import (
    grid_exhausted,
    run_batched_trials,
    run_parallel_trials,
    run_replay_cell,
)
from bench.execution.prelude import (
    fail_stale_trials,
    open_cell_study,
    sampler_options,
    sampler_seed,
)
from bench.execution.task import CellEvent, CellResult, CellTask
from bench.execution.trials import _best, run_trial
from bench.objectives.base import build_objective
from bench.storage.backends import open_storage
from bench.storage.heartbeats import heartbeat_of
from strategies.registry import (
    build_pruner,
    build_sampler,
    keeps_seed_on_resume,
)


def run_cell(task: CellTask, on_event: Callable[[CellEvent], None] | None = None) -> CellResult:
    """Bring one cell to its budget, resuming whatever is stored.

    Args:
        task: the cell and its storage.
        on_event: receives a CellEvent after every trial.
    """
    start = time.perf_counter()
    cell = task.cell
    storage = open_storage(task.storage_url, heartbeat=True)
    objective = build_objective(cell.objective, cell.device, cell.seed,
                                Path(task.data_root) if task.data_root else None)
    if objective.time_simulated:
        return run_replay_cell(task, objective, storage, on_event)
    study = open_cell_study(task, objective, storage)
    fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    done = sum(counts_toward_budget(t) for t in trials)
    session = 0 if keeps_seed_on_resume(cell.strategy.name) else len(trials)
    study.sampler = build_sampler(cell.strategy.name, sampler_seed(cell.seed, session),
                                  objective.space, sampler_options(cell))
    study.pruner = build_pruner(cell.pruner.name, cell.pruner.options_dict())
    if heartbeat_of(storage) is not None:  # the harness beats itself around ask and tell
        warnings.filterwarnings("ignore", "Heartbeat of storage is supposed", UserWarning)
    ran = 0
    emit = on_event or (lambda _e: None)
    if cell.trials_in_parallel > 1:
        runner = run_batched_trials if cell.batch_trials else run_parallel_trials
        ran = runner(study, objective, cell, done, emit)
        done += ran
    while done < cell.trials and cell.trials_in_parallel == 1:
        if grid_exhausted(study, done):
            study.set_user_attr("samplerbench_grid_exhausted_after", done)
            break
        run_trial(study, objective)
        done += 1
        ran += 1
        emit(CellEvent(cell.name, done, cell.trials, _best(study)))
    best = _best(study)
    emit(CellEvent(cell.name, done, cell.trials, best, finished=True))
    return CellResult(cell.name, done, ran, best, time.perf_counter() - start)
