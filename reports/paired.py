"""The gate's paired test: a run and its baseline share their cell seeds and sampler streams,
so they are compared seed by seed (the report's paired tests are in `reports.stats`).

Definitions:
    - Differences within `ZERO` of 0 count as no change: a seed where nothing changed is no
      evidence either way.
    - `sign_flip_greater(d)`: one-sided paired permutation test of "the mean of `d` is
      positive": under the null every difference is as likely negative as positive, so the
      statistic (the sum of `d`) is compared with its values under random sign flips. Exact
      (every sign vector) up to `EXACT_FLIPS` non-zero differences; beyond, `n_resamples`
      flips drawn with `numpy.random.default_rng(seed)` and p = (1 + hits) / (1 + resamples),
      a valid permutation p-value. Unlike the signed-rank test it weighs how far each seed
      moved, which matters when a change makes a few seeds much worse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

ZERO = 1e-12  # |difference| at or below this counts as no change (float rounding of means)
EXACT_FLIPS = 16  # enumerate all 2**n sign vectors up to this many non-zero differences
DEFAULT_FLIPS = 20_000
DEFAULT_SEED = 0


class SignFlip(NamedTuple):
    """Result of a one-sided paired permutation test of the mean.

    Attributes:
        mean: The mean difference over every pair (zeros included).
        p: P(sum >= observed) under fair sign flips; 1.0 when every difference is zero.
        n: The number of non-zero differences.
        method: "exact", "monte-carlo" or "none" (no differences).
    """

    mean: float
    p: float
    n: int
    method: str


def sign_flip_greater(differences: Sequence[float] | npt.NDArray[np.floating], *,
                      n_resamples: int = DEFAULT_FLIPS, seed: int = DEFAULT_SEED) -> SignFlip:
    """One-sided paired permutation (sign-flip) test that the mean of `differences` is > 0.

    Args:
        differences: Per-seed differences (NaNs dropped), e.g. baseline minus current.
        n_resamples: Random sign vectors when there are more than `EXACT_FLIPS` non-zero
            differences.
        seed: Seed of the generator that draws them.

    Returns:
        The mean difference, the p-value, the non-zero count and the method.
    """
    d = np.asarray(differences, dtype=np.float64).ravel()
    d = d[~np.isnan(d)]
    if d.size == 0:
        return SignFlip(math.nan, math.nan, 0, "none")
    mean = float(d.mean())
    nz = d[np.abs(d) > ZERO]
    if nz.size == 0:
        return SignFlip(mean, 1.0, 0, "exact")
    observed = nz.sum()
    tol = 1e-12 * np.abs(nz).sum()  # the observed sign vector itself must count as a hit
    if nz.size <= EXACT_FLIPS:
        codes = np.arange(2 ** nz.size)[:, None] >> np.arange(nz.size) & 1
        sums = ((2 * codes - 1) * np.abs(nz)).sum(axis=1)
        return SignFlip(mean, float((sums >= observed - tol).mean()), int(nz.size), "exact")
    sums = _random_signs(nz.size, n_resamples, seed) @ np.abs(nz)
    hits = int((sums >= observed - tol).sum())
    return SignFlip(mean, (1 + hits) / (1 + n_resamples), int(nz.size), "monte-carlo")


@lru_cache(maxsize=64)
def _random_signs(n: int, n_resamples: int, seed: int) -> npt.NDArray[np.float64]:
    """The random sign vectors of the Monte Carlo path (drawn once per size and seed)."""
    rng = np.random.default_rng([seed, n])
    return rng.integers(0, 2, size=(n_resamples, n)).astype(np.float64) * 2 - 1


def min_sign_flip_p(n: int, n_resamples: int = DEFAULT_FLIPS) -> float:
    """The smallest p-value `sign_flip_greater` can give with `n` non-zero differences."""
    if n <= 0:
        return 1.0
    return 2.0 ** -n if n <= EXACT_FLIPS else max(2.0 ** -n, 1 / (1 + n_resamples))
