"""Run one cell: create or resume its study, fail stale trials, run trials up to the budget."""

from __future__ import annotations

import datetime as dt
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from bench.cells import Cell, first_difference, value_at
from bench.errors import BenchError
from bench.fail_reasons import (
    FAIL_REASON,
    INTERRUPTED,
    NON_FINITE,
    STALE,
    counts_toward_budget,
)
from bench.machine import machine_info, versions
from bench.objective import Outcome
from bench.objectives import Objective, build_objective
from bench.storage import (
    copy_finished_study,
    delete_stored_study,
    heartbeat_ages,
    heartbeat_of,
    open_storage,
    stored_study_attrs,
    trial_heartbeat,
)
from strategies.registry import (
    AskTellGridSampler,
    build_pruner,
    build_sampler,
    keeps_seed_on_resume,
)

TRIAL_ATTR = "samplerbench"  # per-trial measurements, one JSON object
CONSTANT_LIAR = ("tpe", "tpe-multivariate")  # samplers that take constant_liar


@dataclass(frozen=True)
class CellTask:
    """A cell plus where to store it: what an executor ships to a worker."""

    cell: Cell
    storage_url: str
    data_root: str | None = None
    suite_hash: str = ""


@dataclass(frozen=True)
class CellEvent:
    """Progress of one cell, sent after every trial."""

    cell: str
    done: int
    budget: int
    best: float | None
    finished: bool = False
    new: int = 1  # trials run since the previous event of this cell


@dataclass(frozen=True)
class CellResult:
    """How a cell ended; `error` is one line when it failed."""

    cell: str
    done: int
    ran: int
    best: float | None
    seconds: float
    error: str | None = None


def grid_exhausted(study: optuna.Study, done: int) -> bool:
    """True when the cell's grid has a counted trial at every point (looked at only once
    `done` reaches the grid's size). Optuna's own `GridSampler` cannot run out here: its
    `after_trial` raises outside `study.optimize`."""
    sampler = study.sampler
    return (isinstance(sampler, AskTellGridSampler) and done >= sampler.size and
            len(sampler.held_points(study, running=False)) == sampler.size)


def sampler_seed(cell_seed: int, trials_before: int) -> int:
    """The sampler's seed for a session that starts after `trials_before` trials.

    A resumed cell must not replay the random stream of its first session (that would repeat
    parameters), yet a fresh run must be reproducible: so the seed depends on both.
    """
    return int(np.random.SeedSequence([cell_seed, trials_before]).generate_state(1)[0])


def _study_attrs(task: CellTask, objective: Objective) -> dict[str, Any]:
    return {
        "samplerbench_spec": task.cell.spec(),
        "samplerbench_check": {"versions": versions(), **objective.provenance()},
        "samplerbench_suite": task.cell.suite,
        "samplerbench_suite_hash": task.suite_hash,
        "samplerbench_machine": machine_info(),
        "samplerbench_budget": task.cell.trials,
        "samplerbench_time_simulated": objective.time_simulated,
    }


def _check_stored(stored: dict[str, Any], attrs: dict[str, Any], name: str) -> None:
    """Raise BenchError unless a stored study's labels (`stored`) match this cell's `attrs`."""
    for key in ("samplerbench_spec", "samplerbench_check"):
        if key not in stored:
            raise BenchError(f"study {name!r} exists but was not written by samplerbench "
                             f"(no {key}); use another storage or output folder")
        diff = first_difference(stored[key], attrs[key])
        if diff:
            raise BenchError(
                f"study {name!r} was created with a different {diff} "
                f"(stored {value_at(stored[key], diff)!r}, "
                f"now {value_at(attrs[key], diff)!r}); "
                "use a new output folder or restore the original settings"
            )



def fail_stale_trials(study: optuna.Study) -> int:
    """Mark trials left RUNNING by a killed process as FAIL; they do not count.

    Called once when a session starts, before it runs a trial of its own (so RUNNING trials
    of its own parallel workers are never taken for stale): an executor runs a cell in one
    session at a time, so every RUNNING trial then belongs to a stopped process. With RDB
    heartbeats the session first waits until each of them has been silent for the grace
    period (a worker killed a moment ago may have beaten just now) and refuses to go on while
    one keeps beating, since another live process is then running this cell.
    """
    storage = study._storage
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    interval = heartbeat_of(storage)
    if running and interval is not None:
        _wait_until_silent(storage, {t._trial_id: t.number for t in running}, interval,
                           study.study_name)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    n = 0
    for t in running:
        try:
            storage.set_trial_user_attr(t._trial_id, FAIL_REASON, STALE)
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # its own process finished it after all
        n += 1
    return n


def _wait_until_silent(storage: optuna.storages.BaseStorage, numbers: dict[int, int],
                       interval: int, name: str) -> None:
    grace = 2 * interval
    deadline = time.monotonic() + grace + interval
    while True:
        ages = heartbeat_ages(storage, list(numbers))
        live = [tid for tid, age in ages.items() if age is not None and age <= grace]
        if not live:
            return
        if time.monotonic() >= deadline:
            raise BenchError(
                f"trial {numbers[live[0]]} of study {name!r} is RUNNING and its process still "
                "sends heartbeats, so another process is running this cell; stop that process "
                "or let it finish, then run again"
            )
        time.sleep(min(1.0, interval / 2))


def sampler_options(cell: Cell) -> dict[str, Any]:
    """The strategy's options; with trials in parallel, TPE's constant liar is on (unless the
    suite sets it) so that concurrent asks do not all pick the same point."""
    options = cell.strategy.options_dict()
    if cell.trials_in_parallel > 1 and cell.strategy.name in CONSTANT_LIAR:
        options.setdefault("constant_liar", True)
    return options


def open_cell_study(task: CellTask, objective: Objective,
                    storage: optuna.storages.BaseStorage) -> optuna.Study:
    """Create the cell's study or load it, refusing one whose stored spec differs."""
    cell = task.cell
    attrs = _study_attrs(task, objective)
    try:
        study = optuna.load_study(study_name=cell.name, storage=storage)
        existing = True
    except KeyError:
        study = optuna.create_study(study_name=cell.name, storage=storage,
                                    direction="maximize", load_if_exists=True)
        existing = False
    if existing and "samplerbench_spec" in study.user_attrs:
        _check_stored(study.user_attrs, attrs, cell.name)
    else:
        # The spec goes last: its presence means every label was written, so a process killed
        # between these writes leaves a study that the next session labels again.
        for key, value in sorted(attrs.items(), key=lambda kv: kv[0] == "samplerbench_spec"):
            study.set_user_attr(key, value)
    study.set_user_attr("samplerbench_budget", cell.trials)
    return study


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


REPLAY_COMPLETE = "samplerbench_replay_complete"
REPLAY_BEST = "samplerbench_replay_best"  # the copied study's best value, for a resumed run
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


def _best(study: optuna.Study) -> float | None:
    values = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return max(values) if values else None  # type: ignore[type-var]


def run_trial(study: optuna.Study, objective: Objective,
              trial: optuna.Trial | None = None,
              held_attrs: dict[int, dict[str, Any]] | None = None) -> None:
    """Ask (unless `trial` was asked already), suggest (timed as sampler time), evaluate,
    record, tell.

    The trial's measurements go on its user attribute TRIAL_ATTR, or into `held_attrs` by
    trial number when given (an in-memory replay study: attached when the study is copied,
    which spares the in-memory storage copying them on every call).

    A live trial's duration is Optuna's own datetime_complete - datetime_start; a replayed
    one records its simulated duration (recorded objective seconds + real sampler seconds).
    """
    t0 = time.perf_counter()
    trial = trial or study.ask()
    with trial_heartbeat(study._storage, trial._trial_id):
        try:
            params = objective.space.suggest(trial)
            suggest_s = time.perf_counter() - t0
            outcome = objective.evaluate(trial, params)
        except BaseException as err:  # recorded on the trial, then raised again
            _record_failure(study, trial, err)
            raise
    finish_trial(study, trial, outcome, suggest_s, objective.time_simulated, held_attrs)


def finish_trial(study: optuna.Study, trial: optuna.Trial, outcome: Outcome, suggest_s: float,
                 time_simulated: bool = False,
                 held_attrs: dict[int, dict[str, Any]] | None = None) -> None:
    """Record a trial's measurements (see `run_trial` for `held_attrs`) and tell its end;
    a simulated trial's duration is its objective seconds plus its sampler seconds."""
    sampler_s = suggest_s + outcome.prune_s
    attrs = dict(outcome.attrs)
    attrs["objective_s"] = outcome.objective_s
    attrs["sampler_s"] = sampler_s
    attrs["report_epochs"] = list(outcome.report_epochs)
    if time_simulated:
        attrs["duration_s"] = outcome.objective_s + sampler_s
    if held_attrs is None:
        trial.set_user_attr(TRIAL_ATTR, attrs)  # one storage write for all of them
    else:
        held_attrs[trial.number] = attrs
    if outcome.pruned:
        study.tell(trial, state=TrialState.PRUNED)
    elif not np.isfinite(outcome.value):
        trial.set_user_attr(FAIL_REASON, NON_FINITE)
        study.tell(trial, state=TrialState.FAIL)
    else:
        study.tell(trial, outcome.value)


def _record_failure(study: optuna.Study, trial: optuna.Trial, err: BaseException) -> None:
    """Fail a trial whose objective raised, with the reason; it does not count."""
    if isinstance(err, KeyboardInterrupt):
        reason = INTERRUPTED
    else:
        reason = f"error: {type(err).__name__}: {err}".splitlines()[0][:300]
    try:
        trial.set_user_attr(FAIL_REASON, reason)
        study.tell(trial, state=TrialState.FAIL)
    except (OSError, optuna.exceptions.OptunaError):
        pass  # the storage itself failed: the next session fails the trial as stale


def now_iso() -> str:
    """The current UTC time, ISO formatted."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
