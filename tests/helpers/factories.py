"""A user's own factories, named by import path (`tests.helpers.factories:make_sampler`) in the
registry tests."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler

from bench.core.spaces import SearchSpace


def make_sampler(*, seed: int, space: SearchSpace, startup: int = 2) -> BaseSampler:
    """A user's own sampler: TPE with a short random start-up.

    Args:
        seed: the cell's sampler seed.
        space: the search space (unused; TPE reads it from the trials).
        startup: random trials before TPE models the results.
    """
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def make_pruner(*, warmup: int = 1) -> BasePruner:
    """A user's own pruner.

    Args:
        warmup: steps before pruning may start.
    """
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=warmup)


def make_not_a_sampler(*, seed: int, space: SearchSpace) -> Any:
    """A broken factory: returns a plain dict instead of a sampler."""
    return {"seed": seed}


def make_not_a_pruner() -> Any:
    """A broken factory: returns a sampler where a pruner is wanted."""
    return optuna.samplers.RandomSampler(seed=0)


NOT_CALLABLE = 42
