"""The names samplerbench writes on Optuna studies and trials, and which trials count toward
a cell's budget.

Every study and trial attribute the harness reads or writes is named here once: the cell
runner writes them, the exporter and the gate read them back.
"""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

# Study user attributes.
STUDY_SPEC = "samplerbench_spec"  # the cell's spec; written last, so its presence means done
STUDY_CHECK = "samplerbench_check"  # versions and dataset/table provenance, checked on resume
STUDY_SUITE = "samplerbench_suite"
STUDY_SUITE_HASH = "samplerbench_suite_hash"
STUDY_MACHINE = "samplerbench_machine"
STUDY_BUDGET = "samplerbench_budget"
STUDY_TIME_SIMULATED = "samplerbench_time_simulated"
GRID_EXHAUSTED_AFTER = "samplerbench_grid_exhausted_after"  # counted trials when a grid ran out
REPLAY_COMPLETE = "samplerbench_replay_complete"  # a replay study's completion mark (its budget)
REPLAY_BEST = "samplerbench_replay_best"  # the copied study's best value, for a resumed run
LABELS_CHECKED_ON_RESUME = (STUDY_SPEC, STUDY_CHECK)

# Trial user attributes.
TRIAL_ATTR = "samplerbench"  # per-trial measurements, one JSON object
FAIL_REASON = "fail_reason"  # why a trial failed (also a column of the trials table)

# Fail reasons. Only a non-finite value is the objective's own failure and counts; a trial
# cut off by a stopped process, an interrupt or an error is replaced.
STALE = "stale: left RUNNING by a stopped process"
NON_FINITE = "non-finite value"
INTERRUPTED = "interrupted"


def counts_toward_budget(trial: optuna.trial.FrozenTrial) -> bool:
    """Finished trials count; failures count only when the objective itself was non-finite."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and trial.user_attrs.get(FAIL_REASON) == NON_FINITE
