"""A replayed curve at any learning rate, built from the table's recorded neighbours.

Model ("log-linear"): let the suggested rate lie a fraction `w` of the way, in log space,
from tabulated rate i to rate i+1. Per report k and replicate r, with m the mean over
replicates and e = value - m the replicate's residual,

    value = (1 - w) m_i[k] + w m_{i+1}[k] + c ((1 - w) e_i[r, k] + w e_{i+1}[r, k]),
    c = 1 / sqrt((1 - w)^2 + w^2).

The mean is interpolated linearly in log learning rate; the residuals are blended and
rescaled by c so that the replicate noise keeps its recorded variance between grid points
(blending two independent residuals alone would shrink it to half at a midpoint, making
off-grid trials look less noisy than tabulated ones). At a tabulated rate (w = 0) the
recorded replicate is returned exactly. Seconds are interpolated linearly (a convex
combination of non-decreasing cumulative times, so they never decrease). "nearest" is the
former model: snap to the nearest tabulated rate in log space.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np

from bench.spec.suite import INTERPOLATIONS

DEFAULT_INTERPOLATION = INTERPOLATIONS[0]
_EXACT = 1e-9  # a weight this close to 0 or 1 is a tabulated rate


def bracket(log_lrs: Sequence[float], learning_rate: float) -> tuple[int, float]:
    """(i, w): the rate lies a fraction w in [0, 1) of the way from log_lrs[i] to
    log_lrs[i + 1]; w is 0 at a tabulated rate and at the ends (clamped)."""
    x = math.log(learning_rate)
    last = len(log_lrs) - 1
    if x <= log_lrs[0]:
        return 0, 0.0
    if x >= log_lrs[last]:
        return last, 0.0
    i = bisect.bisect_right(log_lrs, x) - 1
    w = (x - log_lrs[i]) / (log_lrs[i + 1] - log_lrs[i])
    if w < _EXACT:
        return i, 0.0
    if w > 1 - _EXACT:
        return i + 1, 0.0
    return i, w


def nearest(log_lrs: Sequence[float], learning_rate: float) -> int:
    """Index of the tabulated rate nearest in log space (a tie goes to the lower one)."""
    x = math.log(learning_rate)
    i = bisect.bisect_left(log_lrs, x)
    if i == 0:
        return 0
    if i == len(log_lrs):
        return i - 1
    return i - 1 if x - log_lrs[i - 1] <= log_lrs[i] - x else i


def noise_scale(w: float) -> float:
    """c: rescales a blend of two independent residuals back to one residual's variance."""
    return 1.0 / math.sqrt((1 - w) ** 2 + w * w)


class CurveBlender:
    """Per-report values of one quantity ([L][H][R][S] nested lists) at any bracket.

    Args:
        values: the recorded values, index [lr][hidden][replicate][report].
    """

    def __init__(self, values: np.ndarray) -> None:
        mean = values.mean(axis=2)  # [L, H, S]
        self.raw: list = values.tolist()
        self.mean: list = mean.tolist()
        self.residual: list = (values - mean[:, :, None, :]).tolist()

    def curve(self, i: int, w: float, j: int, r: int, reports: Sequence[int]) -> list[float]:
        """Replicate r's values at the report indices `reports`, for hidden index j."""
        if w == 0.0:
            raw = self.raw[i][j][r]
            return [raw[k] for k in reports]
        m0, m1 = self.mean[i][j], self.mean[i + 1][j]
        e0, e1 = self.residual[i][j][r], self.residual[i + 1][j][r]
        c = noise_scale(w)
        a, b = c * (1 - w), c * w
        return [m0[k] + w * (m1[k] - m0[k]) + a * e0[k] + b * e1[k] for k in reports]

    def mean_at(self, i: int, w: float, j: int, k: int) -> float:
        """The noise-free value (mean over replicates) at report index k."""
        m0 = self.mean[i][j][k]
        return m0 if w == 0.0 else m0 + w * (self.mean[i + 1][j][k] - m0)


def lerp(values: list, i: int, w: float, j: int, r: int, k: int) -> float:
    """values[i][j][r][k] interpolated linearly between rates i and i + 1."""
    v0 = values[i][j][r][k]
    return v0 if w == 0.0 else v0 + w * (values[i + 1][j][r][k] - v0)
