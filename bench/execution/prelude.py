"""The prelude every cell shares: open (or resume) its study, refusing one whose stored labels
differ; fail trials left RUNNING by a stopped process; build its sampler and pruner."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np
import optuna
from optuna.trial import TrialState

from bench.core.attrs import (
    FAIL_REASON,
    LABELS_CHECKED_ON_RESUME,
    REPLAY_BEST,
    REPLAY_COMPLETE,
    STALE,
    STUDY_BUDGET,
    STUDY_CHECK,
    STUDY_MACHINE,
    STUDY_SPEC,
    STUDY_SUITE,
    STUDY_SUITE_HASH,
    STUDY_TIME_SIMULATED,
    counts_toward_budget,
)
from bench.core.diffs import first_difference, value_at
from bench.core.errors import BenchError
from bench.core.optuna_internals import study_storage, trial_id
from bench.execution.task import CellTask
from bench.execution.trials import best_value
from bench.objectives.base import Objective
from bench.spec.cells import Cell
from bench.storage.heartbeats import heartbeat_ages, heartbeat_of
from bench.storage.studies import delete_stored_study, stored_study_attrs
from bench.training.machine import machine_info, versions
from strategies.registry import (
    build_pruner,
    build_sampler,
    keeps_seed_on_resume,
    takes_constant_liar,
)


class OpenedStudy(NamedTuple):
    """A cell's study as its prelude left it.

    Attributes:
        study: the study to run trials on; None when the storage holds the cell complete.
        done: trials that already count toward the budget.
        session: the trials this session's sampler seed follows (see `sampler_seed`).
        best: the stored best value of a complete cell.
    """

    study: optuna.Study | None
    done: int = 0
    session: int = 0
    best: float | None = None


def sampler_seed(cell_seed: int, trials_before: int, salt: int = 0) -> int:
    """The sampler's seed for a session that starts after `trials_before` trials.

    A resumed cell must not replay the random stream of its first session (that would repeat
    parameters), yet a fresh run must be reproducible: so the seed depends on both.
    A non-zero `salt` (the suite's `sampler_salt`) gives the sampler another stream while the
    cell's replicate draws stay: the same algorithm, changed only where chance enters it.
    """
    entropy = [cell_seed, trials_before, salt] if salt else [cell_seed, trials_before]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def study_labels(task: CellTask, objective: Objective) -> dict[str, Any]:
    """The user attributes that label a cell's study (spec, provenance, suite, machine)."""
    return {
        STUDY_SPEC: task.cell.spec(),
        STUDY_CHECK: {"versions": versions(), **objective.provenance()},
        STUDY_SUITE: task.cell.suite,
        STUDY_SUITE_HASH: task.suite_hash,
        STUDY_MACHINE: machine_info(torch_fields=not objective.time_simulated),
        STUDY_BUDGET: task.cell.trials,
        STUDY_TIME_SIMULATED: objective.time_simulated,
    }


def check_stored(stored: dict[str, Any], labels: dict[str, Any], name: str) -> None:
    """Raise BenchError unless a stored study's labels (`stored`) match this cell's."""
    for key in LABELS_CHECKED_ON_RESUME:
        if key not in stored:
            raise BenchError(f"study {name!r} exists but was not written by samplerbench "
                             f"(no {key}); use another storage or output folder")
        diff = first_difference(stored[key], labels[key])
        if diff:
            raise BenchError(
                f"study {name!r} was created with a different {diff} "
                f"(stored {value_at(stored[key], diff)!r}, "
                f"now {value_at(labels[key], diff)!r}); "
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
    storage = study_storage(study)
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    interval = heartbeat_of(storage)
    if running and interval is not None:
        _wait_until_silent(storage, {trial_id(t): t.number for t in running}, interval,
                           study.study_name)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return fail_running_trials(storage, running, STALE)


def fail_running_trials(storage: optuna.storages.BaseStorage,
                        running: list[optuna.trial.FrozenTrial], reason: str) -> int:
    """Fail each of `running` with `reason` (`fail_reason`); return how many were still
    RUNNING. The caller knows that no live process runs them."""
    n = 0
    for t in running:
        try:
            storage.set_trial_user_attr(trial_id(t), FAIL_REASON, reason)
            storage.set_trial_state_values(trial_id(t), TrialState.FAIL)
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
    if cell.trials_in_parallel > 1 and takes_constant_liar(cell.strategy.name):
        options.setdefault("constant_liar", True)
    return options


def open_stored_study(task: CellTask, objective: Objective,
                      storage: optuna.storages.BaseStorage) -> OpenedStudy:
    """Create the cell's study in `storage` or resume it, refusing one whose labels differ,
    and fail its stale trials. A sampler that keeps its first seed on resume gets session 0."""
    cell = task.cell
    labels = study_labels(task, objective)
    try:
        study = optuna.load_study(study_name=cell.name, storage=storage)
        existing = True
    except KeyError:
        study = optuna.create_study(study_name=cell.name, storage=storage,
                                    direction="maximize", load_if_exists=True)
        existing = False
    if existing and STUDY_SPEC in study.user_attrs:
        check_stored(study.user_attrs, labels, cell.name)
    else:
        # The spec goes last: its presence means every label was written, so a process killed
        # between these writes leaves a study that the next session labels again.
        for key, value in sorted(labels.items(), key=lambda kv: kv[0] == STUDY_SPEC):
            study.set_user_attr(key, value)
    study.set_user_attr(STUDY_BUDGET, cell.trials)
    fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    done = sum(counts_toward_budget(t) for t in trials)
    session = 0 if keeps_seed_on_resume(cell.strategy.name) else len(trials)
    return OpenedStudy(study, done, session)


def open_replay_study(task: CellTask, objective: Objective,
                      storage: optuna.storages.BaseStorage) -> OpenedStudy:
    """A replay cell's fresh in-memory study, or no study (and its best value) when `storage`
    already holds it complete.

    The cell is the unit of resume: a study marked complete is skipped; one cut off while
    being copied (no completion mark) is deleted and replayed, which is cheap and
    deterministic.
    """
    cell = task.cell
    labels = study_labels(task, objective)
    stored = stored_study_attrs(storage, cell.name)  # no trial is read for this
    if stored is not None:
        # A copy killed before all its labels were written is incomplete: replayed below.
        if set(LABELS_CHECKED_ON_RESUME) <= set(stored):
            check_stored(stored, labels, cell.name)
        if stored.get(REPLAY_COMPLETE, -1) >= cell.trials:
            best = stored[REPLAY_BEST] if REPLAY_BEST in stored else best_value(
                optuna.load_study(study_name=cell.name, storage=storage))
            return OpenedStudy(None, cell.trials, best=best)
        delete_stored_study(storage, cell.name)
    memory = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name=cell.name, storage=memory, direction="maximize")
    for key, value in labels.items():
        study.set_user_attr(key, value)
    return OpenedStudy(study)


def set_strategies(study: optuna.Study, cell: Cell, objective: Objective, session: int,
                   options: dict[str, Any]) -> None:
    """Give the study the cell's sampler (with `options`, seeded for a session after
    `session` trials) and pruner."""
    study.sampler = build_sampler(cell.strategy.name,
                                  sampler_seed(cell.seed, session, cell.sampler_salt),
                                  objective.space, options)
    study.pruner = build_pruner(cell.pruner.name, cell.pruner.options_dict())
