"""Planted regressions for measuring the gate's power: real sampler wrappers, by import path.

With the repository root on `sys.path` (as `benchmarks/gate_power.py` and the tests put it),
a suite names them like any custom strategy, labelled as the strategy they stand in for:

    strategies = [{ name = "benchmarks.planted:clipped_tpe", label = "tpe" }]

`clipped_tpe` is TPE with a bug: every learning rate it suggests (start-up trials included)
is clipped into [1e-5, 1e-4], so it never tries the learning rates that train well.
TPE that never leaves its random start-up phase needs no wrapper: the registry's `tpe` with
`options = { n_startup_trials = 1000000 }`.
"""

from __future__ import annotations

from typing import Any

from optuna import Study
from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.trial import FrozenTrial

from bench.core.spaces import SearchSpace

CLIPPED_PARAM = "learning_rate"
CLIP_LOW = 1e-5
CLIP_HIGH = 1e-4


class ClippedLearningRateTPE(TPESampler):
    """TPESampler whose `learning_rate` suggestions are clipped into [low, high].

    Args:
        low: Lower clip bound.
        high: Upper clip bound.
        **options: TPESampler's keyword arguments (seed, n_startup_trials, ...).
    """

    def __init__(self, *, low: float = CLIP_LOW, high: float = CLIP_HIGH,
                 **options: Any) -> None:
        super().__init__(**options)
        self._low = low
        self._high = high

    def _clip(self, name: str, value: Any) -> Any:
        if name != CLIPPED_PARAM:
            return value
        return min(max(float(value), self._low), self._high)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """TPE's joint sample (multivariate mode), learning rate clipped."""
        params = super().sample_relative(study, trial, search_space)
        return {name: self._clip(name, value) for name, value in params.items()}

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        """TPE's (or its start-up random sampler's) sample, learning rate clipped."""
        value = super().sample_independent(study, trial, param_name, param_distribution)
        return self._clip(param_name, value)


def clipped_tpe(*, seed: int, space: SearchSpace, low: float = CLIP_LOW,
                high: float = CLIP_HIGH, **options: Any) -> TPESampler:
    """Registry factory: the planted-bug TPE for one cell.

    Args:
        seed: The cell's sampler seed.
        space: The search space (unused; the registry passes it to every factory).
        low: Lower clip bound of the learning rate.
        high: Upper clip bound of the learning rate.
        **options: TPESampler's keyword arguments.
    """
    return ClippedLearningRateTPE(seed=seed, low=low, high=high, **options)
