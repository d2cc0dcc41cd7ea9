"""The trial loops a cell can run after its prelude: serial, threads on one study, batched (K
networks trained as one batch) and replay (in memory, copied to the storage at the end)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import optuna

from bench.core.attrs import (
    REPLAY_BEST,
    REPLAY_COMPLETE,
    TRIAL_ATTR,
)
from bench.core.errors import BenchError
from bench.execution.prelude import _check_stored, _study_attrs, sampler_seed
from bench.execution.task import CellEvent, CellResult, CellTask
from bench.execution.trials import _best, _record_failure, finish_trial, run_trial
from bench.objectives.base import Objective
from bench.spec.cells import Cell
from bench.storage.heartbeats import trial_heartbeat
from bench.storage.studies import copy_finished_study, delete_stored_study, stored_study_attrs
from strategies.registry import (
    AskTellGridSampler,
    build_pruner,
    build_sampler,
)


def grid_exhausted(study: optuna.Study, done: int) -> bool:
    """True when the cell's grid has a counted trial at every point (looked at only once
    `done` reaches the grid's size). Optuna's own `GridSampler` cannot run out here: its
    `after_trial` raises outside `study.optimize`."""
    sampler = study.sampler
    return (isinstance(sampler, AskTellGridSampler) and done >= sampler.size and
            len(sampler.held_points(study, running=False)) == sampler.size)


REPLAY_EVENT_EVERY = 25


def run_replay_cell(task: CellTask, objective: Objective, storage: optuna.storages.BaseStorage,
                    on_event: Callable[[CellEvent], None] | None = None) -> CellResult:
    """Run a replay cell in memory, then write the finished study to `storage` at once.

    The cell is the unit of resume: a study marked complete is skipped; one cut off while
    being copied (no completion mark) is deleted and replayed, which is cheap and
    deterministic.
    """
    start = time.perf_counter()
    cell = task.cell
    emit = on_event or (lambda _e: None)
    stored = stored_study_attrs(storage, cell.name)  # no trial is read for this
    if stored is not None:
        # A copy killed before all its labels were written is incomplete: replayed below.
        if {"samplerbench_spec", "samplerbench_check"} <= set(stored):
            _check_stored(stored, _study_attrs(task, objective), cell.name)
        if stored.get(REPLAY_COMPLETE, -1) >= cell.trials:
            best = stored[REPLAY_BEST] if REPLAY_BEST in stored else _best(
                optuna.load_study(study_name=cell.name, storage=storage))
            emit(CellEvent(cell.name, cell.trials, cell.trials, best, finished=True))
            return CellResult(cell.name, cell.trials, 0, best, time.perf_counter() - start)
        delete_stored_study(storage, cell.name)
    memory = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name=cell.name, storage=memory, direction="maximize")
    for key, value in _study_attrs(task, objective).items():
        study.set_user_attr(key, value)
    study.sampler = build_sampler(cell.strategy.name, sampler_seed(cell.seed, 0),
                                  objective.space, cell.strategy.options_dict())
    study.pruner = build_pruner(cell.pruner.name, cell.pruner.options_dict())
    done = 0
    held: dict[int, dict[str, Any]] = {}
    while done < cell.trials:
        if grid_exhausted(study, done):
            study.set_user_attr("samplerbench_grid_exhausted_after", done)
            break
        run_trial(study, objective, held_attrs=held)
        done += 1
        if done % REPLAY_EVENT_EVERY == 0:
            emit(CellEvent(cell.name, done, cell.trials, None, new=REPLAY_EVENT_EVERY))
    best = _best(study)
    copy_finished_study(study, storage, {REPLAY_BEST: best, REPLAY_COMPLETE: cell.trials},
                        {n: {TRIAL_ATTR: a} for n, a in held.items()})  # the mark goes last
    emit(CellEvent(cell.name, done, cell.trials, best, new=done % REPLAY_EVENT_EVERY))
    emit(CellEvent(cell.name, done, cell.trials, best, finished=True))
    return CellResult(cell.name, done, done, best, time.perf_counter() - start)


def run_parallel_trials(study: optuna.Study, objective: Objective, cell: Cell, done: int,
                        emit: Callable[[CellEvent], None]) -> int:
    """Run a cell's trials on `cell.trials_in_parallel` threads that share one study.

    A thread reserves a slot and asks for its trial under one lock, so the cell never runs
    past its budget and a grid never hands out a point twice, however the threads interleave.
    The first error stops the other threads after their current trial and is raised here.

    Args:
        study: the cell's study, sampler and pruner set.
        objective: the objective (evaluated concurrently by the threads).
        cell: the cell (budget and number of threads).
        done: trials that already count toward the budget.
        emit: receives a CellEvent after every trial (called under the lock).

    Returns:
        How many trials the threads ran.
    """
    lock = threading.Lock()
    count = {"done": done, "running": 0, "ran": 0, "grid_used_up": 0}
    errors: list[BaseException] = []

    def reserve() -> optuna.Trial | None:
        with lock:
            if errors or count["done"] + count["running"] >= cell.trials:
                return None
            if _grid_points_taken(study):
                count["grid_used_up"] = 1
                return None
            trial = study.ask()
            count["running"] += 1
            return trial

    def work() -> None:
        while (trial := reserve()) is not None:
            try:
                run_trial(study, objective, trial)
            except BaseException as err:  # handed to the calling thread below
                with lock:
                    count["running"] -= 1
                    errors.append(err)
                return
            with lock:
                count["running"] -= 1
                count["done"] += 1
                count["ran"] += 1
                emit(CellEvent(cell.name, count["done"], cell.trials, _best(study)))

    threads = [threading.Thread(target=work, name=f"{cell.name}-trials-{i}", daemon=True)
               for i in range(cell.trials_in_parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    if count["grid_used_up"]:
        study.set_user_attr("samplerbench_grid_exhausted_after", count["done"])
    return count["ran"]


def run_batched_trials(study: optuna.Study, objective: Objective, cell: Cell, done: int,
                       emit: Callable[[CellEvent], None]) -> int:
    """Run a cell's trials K at a time as one batch: ask K trials, train their networks in
    the same kernels (`LiveObjective.evaluate_batch`), report and prune each, tell all K.

    Returns:
        How many trials ran.
    """
    evaluate_batch = getattr(objective, "evaluate_batch", None)
    if evaluate_batch is None:
        raise BenchError("batch_trials needs the live objective; set batch_trials = false")
    ran = 0
    while done < cell.trials:
        asked: list[tuple[optuna.Trial, dict[str, Any], float]] = []
        while len(asked) < min(cell.trials_in_parallel, cell.trials - done) and \
                not _grid_points_taken(study):
            t0 = time.perf_counter()
            trial = study.ask()
            try:
                params = objective.space.suggest(trial)
            except BaseException as err:
                for failed in [trial] + [t for t, _, _ in asked]:
                    _record_failure(study, failed, err)
                raise
            asked.append((trial, params, time.perf_counter() - t0))
        if not asked:
            study.set_user_attr("samplerbench_grid_exhausted_after", done)
            break
        with ExitStack() as beating:
            for trial, _, _ in asked:
                beating.enter_context(trial_heartbeat(study._storage, trial._trial_id))
            try:
                outcomes = evaluate_batch([(trial, params) for trial, params, _ in asked])
            except BaseException as err:  # recorded on every trial of the batch, raised again
                for trial, _, _ in asked:
                    _record_failure(study, trial, err)
                raise
        for (trial, _, suggest_s), outcome in zip(asked, outcomes, strict=True):
            finish_trial(study, trial, outcome, suggest_s)
            done += 1
            ran += 1
            emit(CellEvent(cell.name, done, cell.trials, _best(study)))
    return ran


def _grid_points_taken(study: optuna.Study) -> bool:
    """True when every point of the cell's grid is held by a running or counted trial.

    Optuna's `is_exhausted` waits for the running ones, and meanwhile hands their points out
    again; parallel trials must stop asking as soon as no point is left.
    """
    sampler = study.sampler
    return (isinstance(sampler, AskTellGridSampler) and
            len(sampler.held_points(study, running=True)) == sampler.size)
