"""One trial: ask, suggest (timed as sampler time), evaluate, record its measurements, tell; and
the failure record of a trial whose objective raised."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from bench.core.attrs import (
    FAIL_REASON,
    INTERRUPTED,
    NON_FINITE,
    TRIAL_ATTR,
)
from bench.core.optuna_internals import study_storage, tell, trial_id
from bench.objectives.base import Objective
from bench.objectives.outcome import Outcome
from bench.storage.heartbeats import trial_heartbeat


def best_value(study: optuna.Study) -> float | None:
    """The best COMPLETE value of a study (it maximises), or None."""
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
    with trial_heartbeat(study_storage(study), trial_id(trial)):
        try:
            params = objective.space.suggest(trial)
            suggest_s = time.perf_counter() - t0
            outcome = objective.evaluate(trial, params)
        except BaseException as err:  # recorded on the trial, then raised again
            record_failure(study, trial, err)
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
        tell(study, trial, state=TrialState.PRUNED)
    elif not np.isfinite(outcome.value):
        trial.set_user_attr(FAIL_REASON, NON_FINITE)
        tell(study, trial, state=TrialState.FAIL)
    else:
        tell(study, trial, outcome.value)


def record_failure(study: optuna.Study, trial: optuna.Trial, err: BaseException) -> None:
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
