"""A grid derived from a search space: integers at their step, log-spaced points for log floats.

GridSampler's cost per trial grows with grid size times finished trials (over 200 ms per trial
at 1,000 points), so grids larger than `MAX_GRID_POINTS` are refused.
"""

from __future__ import annotations

import math

import numpy as np

from bench.core.errors import BenchError
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
