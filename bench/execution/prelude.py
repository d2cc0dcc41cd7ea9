"""The prelude every cell shares: open or create its study (refusing one whose stored spec
differs), fail trials left RUNNING by a stopped process, and seed its sampler."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from bench.core.attrs import FAIL_REASON, STALE
from bench.core.diffs import first_difference, value_at
from bench.core.errors import BenchError
from bench.execution.task import CellTask
from bench.objectives.base import Objective
from bench.spec.cells import Cell
from bench.storage.heartbeats import heartbeat_ages, heartbeat_of
from bench.training.machine import machine_info, versions

CONSTANT_LIAR = ("tpe", "tpe-multivariate")  # samplers that take constant_liar


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
