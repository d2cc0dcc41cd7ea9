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

import numpy as np
from optuna import Study
from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.trial import FrozenTrial

from bench.core.optuna_internals import reseed_tpe_model
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


class CrashingTPE(TPESampler):
    """TPESampler that raises on its first suggestion: a sampler bug that takes a cell down."""

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        """Raise, as a broken sampler would."""
        raise RuntimeError("planted sampler crash")


def crashing_tpe(*, seed: int, space: SearchSpace, share: float = 0.25,
                 **options: Any) -> TPESampler:
    """Registry factory: TPE that crashes in a share of cells (those whose sampler seed falls
    in the lowest `share` of its range), and is plain TPE elsewhere.

    Args:
        seed: The cell's sampler seed (uniform over 32 bits, so `share` of cells crash).
        space: The search space (unused).
        share: The share of cells that crash.
        **options: TPESampler's keyword arguments.
    """
    cls = CrashingTPE if seed < share * 2**32 else TPESampler
    return cls(seed=seed, **options)


def tpe_model_salted(*, seed: int, space: SearchSpace, salt: int = 1,
                     **options: Any) -> TPESampler:
    """Registry factory: a neutral change that keeps TPE's random start-up stream but salts the
    stream its model samples candidates from, as a refactor that draws one more random number
    after the start-up would. Not a regression: the calibration's neutral change that shares
    the first trials with the baseline.

    Args:
        seed: The cell's sampler seed (the start-up sampler keeps it).
        space: The search space (unused).
        salt: Mixed into the model's seed.
        **options: TPESampler's keyword arguments.
    """
    sampler = TPESampler(seed=seed, **options)
    reseed_tpe_model(sampler, int(np.random.SeedSequence([seed, salt]).generate_state(1)[0]))
    return sampler
