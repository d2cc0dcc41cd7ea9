"""Grid search: a grid derived from a search space (integers at their step, log-spaced points
for log floats) and the grid sampler the harness runs it with.

GridSampler's cost per trial grows with grid size times finished trials (over 200 ms per trial
at 1,000 points), so grids larger than `MAX_GRID_POINTS` are refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import optuna
from optuna.trial import TrialState

from bench.core.attrs import counts_toward_budget
from bench.core.errors import BenchError
from bench.core.optuna_internals import (
    FIXED_PARAMS_ATTR,
    GRID_ID_ATTR,
    assign_grid_point,
    grid_points,
    study_id,
    study_storage,
)
from bench.core.spaces import CategoricalParam, FloatParam, IntParam, ParamValue, SearchSpace

MAX_GRID_POINTS = 1000
DEFAULT_FLOAT_POINTS = 10


def float_points(param: FloatParam, count: int) -> list[float]:
    """`count` points spanning [low, high]: geometric for log floats, linear otherwise."""
    if count == 1:
        return [param.low]
    if param.log:
        return [float(v) for v in np.geomspace(param.low, param.high, count)]
    return [float(v) for v in np.linspace(param.low, param.high, count)]


def int_points(param: IntParam, count: int) -> list[int]:
    """Every value at the parameter's step, or `count` log-spaced integers for log ints."""
    if not param.log:
        return param.values()
    return sorted({round(v) for v in np.geomspace(param.low, param.high, count)})


def derive_grid(
    space: SearchSpace, points: int = DEFAULT_FLOAT_POINTS, max_points: int = MAX_GRID_POINTS
) -> dict[str, list[ParamValue]]:
    """The grid of every parameter's values, refused when larger than `max_points`.

    Args:
        space: the search space (conditional parameters get their own axis too).
        points: how many values each float (and log int) axis gets.
        max_points: the largest grid accepted.
    """
    if points < 1:
        raise BenchError(f"grid: points must be at least 1, got {points}")
    grid: dict[str, list[ParamValue]] = {}
    for p in space.params:
        if isinstance(p, FloatParam):
            grid[p.name] = list(float_points(p, points))
        elif isinstance(p, IntParam):
            grid[p.name] = list(int_points(p, points))
        elif isinstance(p, CategoricalParam):
            grid[p.name] = list(p.choices)
    size = math.prod(len(v) for v in grid.values())
    if size > max_points:
        axes = " x ".join(f"{k}:{len(v)}" for k, v in grid.items())
        raise BenchError(
            f"grid of {size} points ({axes}) is over the limit of {max_points}; lower the "
            "strategy option `points` or raise `max_points` (each trial then costs more)"
        )
    return grid


class AskTellGridSampler(optuna.samplers.GridSampler):
    """GridSampler that leaves stopping to the caller and retries points whose trial did not
    count.

    Optuna's `after_trial` calls `study.stop()` when the grid runs out, which raises outside
    `study.optimize`; the cell runner asks `held_points` before each ask instead. Optuna gives
    trial k the k-th point of the shuffled grid, so a trial failed as stale (its process was
    killed) would skip its point for good; here each new trial takes the first point that no
    running or counted trial holds, so a resumed cell visits the points a clean run would.
    """

    @property
    def size(self) -> int:
        """How many points the grid has."""
        return len(grid_points(self))

    def held_points(self, study: optuna.Study, running: bool) -> set[int]:
        """Grid ids held by trials that count toward the budget (and running ones if
        `running`)."""
        return {t.system_attrs[GRID_ID_ATTR]
                for t in study_storage(study).get_all_trials(study_id(study), deepcopy=False)
                if GRID_ID_ATTR in t.system_attrs and
                (counts_toward_budget(t) or (running and t.state == TrialState.RUNNING))}

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Give the trial the first point not held by a running or counted trial."""
        if GRID_ID_ATTR in trial.system_attrs or FIXED_PARAMS_ATTR in trial.system_attrs:
            return
        held = self.held_points(study, running=True)
        free = next((i for i in range(self.size) if i not in held), None)
        if free is None:  # every point taken: Optuna's own rule (re-evaluate one)
            super().before_trial(study, trial)
            return
        assign_grid_point(study, trial, self, free)

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                    state: optuna.trial.TrialState, values: Sequence[float] | None) -> None:
        """Do nothing: exhaustion is checked before the next ask."""
