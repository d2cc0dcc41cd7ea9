"""A rough time estimate for `run --dry-run`, from per-epoch costs measured on a 2-core CPU."""

from __future__ import annotations

from bench.spec.suite import Suite
from strategies.registry import replay_trial_seconds

# Seconds per training epoch at the middle hidden size (160), measured on a 2-core Xeon.
_EPOCH_S = {"mnist": 0.9, "fashion-mnist": 0.9, "digits": 0.01}


def estimate_seconds(suite: Suite, trials_left: int) -> float:
    """Expected seconds for `trials_left` trials on one worker (pruning ignored)."""
    if suite.objective.kind == "mnist-table":
        per = max(replay_trial_seconds(s.name) for s in suite.strategies)
        return trials_left * per
    spec = suite.objective.spec
    evals = spec.epochs * (spec.reports_per_epoch if spec.report_every is None else 4)
    per_trial = spec.epochs * _EPOCH_S.get(spec.dataset, 1.0) + 0.02 * evals
    return trials_left * per_trial / max(1, suite.workers)
