"""Why a trial failed, recorded as its `fail_reason` user attribute, and which trials count
toward a cell's budget (only a failure of the objective itself does; a trial cut off by a
stopped process, an interrupt or an error is replaced)."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

FAIL_REASON = "fail_reason"  # trial user attribute (and trials column) saying why it failed
STALE = "stale: left RUNNING by a stopped process"
NON_FINITE = "non-finite value"
INTERRUPTED = "interrupted"


def counts_toward_budget(trial: optuna.trial.FrozenTrial) -> bool:
    """Finished trials count; failures count only when the objective itself was non-finite."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and trial.user_attrs.get(FAIL_REASON) == NON_FINITE


TRIAL_ATTR = "samplerbench"  # per-trial measurements, one JSON object


REPLAY_COMPLETE = "samplerbench_replay_complete"


REPLAY_BEST = "samplerbench_replay_best"  # the copied study's best value, for a resumed run
