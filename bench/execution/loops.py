"""The trial loops a cell can run after its prelude, one per way of running trials: one at a
time, K threads on one study, or K networks trained as one batch.

Each loop takes a `LoopRun` and returns a `LoopEnd`; the cell runner picks the loop from its
dispatch table and records what the loop reports (a grid that ran out) in one place.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, NamedTuple

import optuna

from bench.core.errors import BenchError
from bench.core.optuna_internals import study_storage, trial_id
from bench.execution.task import CellEvent
from bench.execution.trials import best_value, finish_trial, record_failure, run_trial
from bench.objectives.base import Objective
from bench.spec.cells import Cell
from bench.storage.heartbeats import trial_heartbeat
from strategies.grid import AskTellGridSampler


@dataclass(frozen=True)
class LoopRun:
    """What a trial loop needs.

    Attributes:
        study: the cell's study, sampler and pruner set.
        objective: the objective the trials evaluate.
        cell: the cell (budget, trials in parallel).
        done: trials that already count toward the budget.
        emit: receives the cell's progress events.
        held_attrs: where trial measurements go by trial number instead of the storage (an
            in-memory replay study, see `run_trial`); None writes them on the trial.
        event_every: emit a progress event every this many trials; above 1 the events carry
            no best value (reading it costs a pass over the study's trials).
        trial_times: where a loop on a simulated clock puts each trial's (start, end) in
            simulated seconds from the cell's start, by trial number.
    """

    study: optuna.Study
    objective: Objective
    cell: Cell
    done: int
    emit: Callable[[CellEvent], None]
    held_attrs: dict[int, dict[str, Any]] | None = None
    event_every: int = 1
    trial_times: dict[int, tuple[float, float]] | None = None


class LoopEnd(NamedTuple):
    """How a loop ended: trials counted in all, run by this loop, and whether the grid ran out."""

    done: int
    ran: int
    grid_exhausted: bool


def grid_exhausted(study: optuna.Study, done: int) -> bool:
    """True when the cell's grid has a counted trial at every point (looked at only once
    `done` reaches the grid's size). Optuna's own `GridSampler` cannot run out here: its
    `after_trial` raises outside `study.optimize`."""
    sampler = study.sampler
    return (isinstance(sampler, AskTellGridSampler) and done >= sampler.size and
            len(sampler.held_points(study, running=False)) == sampler.size)


def grid_points_taken(study: optuna.Study, held: int | None = None) -> bool:
    """True when every point of the cell's grid is held by a running or counted trial.

    Optuna's `is_exhausted` waits for the running ones, and meanwhile hands their points out
    again; parallel trials must stop asking as soon as no point is left. With `held` (the
    running and counted trials) the grid is looked at only once they could cover it.
    """
    sampler = study.sampler
    return (isinstance(sampler, AskTellGridSampler) and
            (held is None or held >= sampler.size) and
            len(sampler.held_points(study, running=True)) == sampler.size)


def serial_trials(run: LoopRun) -> LoopEnd:
    """One trial after another until the budget is met or the grid runs out."""
    cell, study, done, ran = run.cell, run.study, run.done, 0
    while done < cell.trials:
        if grid_exhausted(study, done):
            return LoopEnd(done, ran, True)
        run_trial(study, run.objective, held_attrs=run.held_attrs)
        done += 1
        ran += 1
        if ran % run.event_every == 0:
            best = best_value(study) if run.event_every == 1 else None
            run.emit(CellEvent(cell.name, done, cell.trials, best, new=run.event_every))
    return LoopEnd(done, ran, False)


def threaded_trials(run: LoopRun) -> LoopEnd:
    """The cell's trials on `cell.trials_in_parallel` threads that share one study.

    A thread reserves a slot and asks for its trial under one lock, so the cell never runs
    past its budget and a grid never hands out a point twice, however the threads interleave.
    The first error stops the other threads after their current trial and is raised here.
    Events are emitted under the lock.
    """
    cell, study = run.cell, run.study
    lock = threading.Lock()
    count = {"done": run.done, "running": 0, "ran": 0}
    used_up: list[bool] = []
    errors: list[BaseException] = []

    def reserve() -> optuna.Trial | None:
        with lock:
            if errors or count["done"] + count["running"] >= cell.trials:
                return None
            if grid_points_taken(study):
                used_up.append(True)
                return None
            trial = study.ask()
            count["running"] += 1
            return trial

    def work() -> None:
        while (trial := reserve()) is not None:
            try:
                run_trial(study, run.objective, trial)
            except BaseException as err:  # handed to the calling thread below
                with lock:
                    count["running"] -= 1
                    errors.append(err)
                return
            with lock:
                count["running"] -= 1
                count["done"] += 1
                count["ran"] += 1
                run.emit(CellEvent(cell.name, count["done"], cell.trials, best_value(study)))

    threads = [threading.Thread(target=work, name=f"{cell.name}-trials-{i}", daemon=True)
               for i in range(cell.trials_in_parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return LoopEnd(count["done"], count["ran"], bool(used_up))


def batched_trials(run: LoopRun) -> LoopEnd:
    """The cell's trials K at a time as one batch: ask K trials, train their networks in the
    same kernels (`LiveObjective.evaluate_batch`), report and prune each, tell all K."""
    cell, study, done, ran = run.cell, run.study, run.done, 0
    evaluate_batch = getattr(run.objective, "evaluate_batch", None)
    if evaluate_batch is None:
        raise BenchError("batch_trials needs the live objective; set batch_trials = false")
    while done < cell.trials:
        asked: list[tuple[optuna.Trial, dict[str, Any], float]] = []
        while len(asked) < min(cell.trials_in_parallel, cell.trials - done) and \
                not grid_points_taken(study):
            t0 = time.perf_counter()
            trial = study.ask()
            try:
                params = run.objective.space.suggest(trial)
            except BaseException as err:
                for failed in [trial] + [t for t, _, _ in asked]:
                    record_failure(study, failed, err)
                raise
            asked.append((trial, params, time.perf_counter() - t0))
        if not asked:
            return LoopEnd(done, ran, True)
        with ExitStack() as beating:
            for trial, _, _ in asked:
                beating.enter_context(trial_heartbeat(study_storage(study), trial_id(trial)))
            try:
                outcomes = evaluate_batch([(trial, params) for trial, params, _ in asked])
            except BaseException as err:  # recorded on every trial of the batch, raised again
                for trial, _, _ in asked:
                    record_failure(study, trial, err)
                raise
        for (trial, _, suggest_s), outcome in zip(asked, outcomes, strict=True):
            finish_trial(study, trial, outcome, suggest_s)
            done += 1
            ran += 1
            run.emit(CellEvent(cell.name, done, cell.trials, best_value(study)))
    return LoopEnd(done, ran, False)
