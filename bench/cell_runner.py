"""Run one cell: create or resume its study, fail stale trials, run trials up to the budget."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.samplers import GridSampler
from optuna.trial import TrialState

from bench.cells import Cell, first_difference
from bench.errors import BenchError
from bench.machine import machine_info, versions
from bench.objectives import Objective, build_objective
from bench.storage import open_storage
from strategies.registry import build_pruner, build_sampler

FAIL_REASON = "fail_reason"
STALE = "stale: left RUNNING by a stopped process"
NON_FINITE = "non-finite value"


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


@dataclass(frozen=True)
class CellResult:
    """How a cell ended; `error` is one line when it failed."""

    cell: str
    done: int
    ran: int
    best: float | None
    seconds: float
    error: str | None = None


def counts_toward_budget(trial: optuna.trial.FrozenTrial) -> bool:
    """Finished trials count; failures count only when the objective itself was non-finite."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and trial.user_attrs.get(FAIL_REASON) == NON_FINITE


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


def _check_stored(study: optuna.Study, attrs: dict[str, Any], name: str) -> None:
    stored = study.user_attrs
    for key in ("samplerbench_spec", "samplerbench_check"):
        if key not in stored:
            raise BenchError(f"study {name!r} exists but was not written by samplerbench "
                             f"(no {key}); use another storage or output folder")
        diff = first_difference(stored[key], attrs[key])
        if diff:
            raise BenchError(
                f"study {name!r} was created with a different {diff} "
                f"(stored {_at(stored[key], diff)!r}, now {_at(attrs[key], diff)!r}); "
                "use a new output folder or restore the original settings"
            )


def _at(obj: Any, path: str) -> Any:
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        try:
            obj = obj[int(part[1:-1])] if part.startswith("[") else obj[part]
        except (KeyError, IndexError, TypeError):
            return None
    return obj


def fail_stale_trials(study: optuna.Study) -> int:
    """Mark trials left RUNNING by a killed process as FAIL; they do not count."""
    storage = study._storage
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(t._trial_id, FAIL_REASON, STALE)
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        n += 1
    return n


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
        _check_stored(study, attrs, cell.name)
    else:
        for key, value in attrs.items():
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
    storage = open_storage(task.storage_url)
    objective = build_objective(cell.objective, cell.device, cell.seed,
                                Path(task.data_root) if task.data_root else None)
    study = open_cell_study(task, objective, storage)
    fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    done = sum(counts_toward_budget(t) for t in trials)
    study.sampler = build_sampler(cell.strategy.name, sampler_seed(cell.seed, len(trials)),
                                  objective.space, cell.strategy.options_dict())
    study.pruner = build_pruner(cell.pruner.name, cell.pruner.options_dict())
    ran = 0
    emit = on_event or (lambda _e: None)
    while done < cell.trials:
        if isinstance(study.sampler, GridSampler) and study.sampler.is_exhausted(study):
            study.set_user_attr("samplerbench_grid_exhausted_after", done)
            break
        run_trial(study, objective)
        done += 1
        ran += 1
        emit(CellEvent(cell.name, done, cell.trials, _best(study)))
    best = _best(study)
    emit(CellEvent(cell.name, done, cell.trials, best, finished=True))
    return CellResult(cell.name, done, ran, best, time.perf_counter() - start)


def _best(study: optuna.Study) -> float | None:
    values = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return max(values) if values else None  # type: ignore[type-var]


def run_trial(study: optuna.Study, objective: Objective) -> None:
    """Ask, suggest (timed as sampler time), evaluate, record, tell.

    A live trial's duration is Optuna's own datetime_complete - datetime_start; a replayed
    one records its simulated duration (recorded objective seconds + real sampler seconds).
    """
    t0 = time.perf_counter()
    trial = study.ask()
    params = objective.space.suggest(trial)
    suggest_s = time.perf_counter() - t0
    outcome = objective.evaluate(trial, params)
    sampler_s = suggest_s + outcome.prune_s
    attrs = dict(outcome.attrs)
    attrs["objective_s"] = outcome.objective_s
    attrs["sampler_s"] = sampler_s
    attrs["report_epochs"] = [r.epoch for r in outcome.reports]
    if objective.time_simulated:
        attrs["duration_s"] = outcome.objective_s + sampler_s
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    if outcome.pruned:
        study.tell(trial, state=TrialState.PRUNED)
    elif not np.isfinite(outcome.value):
        trial.set_user_attr(FAIL_REASON, NON_FINITE)
        study.tell(trial, state=TrialState.FAIL)
    else:
        study.tell(trial, outcome.value)


def now_iso() -> str:
    """The current UTC time, ISO formatted."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
