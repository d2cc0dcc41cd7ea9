"""Pure statistics shared by the report and the CI gate.

Definitions:
    - `mann_whitney_greater(a, b)`: one-sided Mann-Whitney U test of "a tends to be larger
      than b" (scipy's `alternative="greater"`). Small samples (at most `EXACT_LIMIT` ways to
      split the pooled sample) use the exact null distribution: scipy's exact method without
      ties, an exhaustive permutation test with ties (exact given the ties). Larger samples use
      the normal approximation with tie correction.
    - `holm(p)`: Holm's step-down adjusted p-values; reject where adjusted p <= alpha. NaN
      p-values are left NaN and do not count towards the number of tests.
    - `a12(a, b)`: the Vargha-Delaney effect size P(A > B) + 0.5 P(A = B) over all pairs of
      one value from each sample; 0.5 means no effect, 1 means every a beats every b.
    - `bootstrap_ci(x)`: percentile bootstrap interval of the mean, from `n_resamples`
      resamples drawn with `numpy.random.default_rng(seed)` (default seed 0), vectorised.
    - `min_attainable_p(n1, n2)`: the smallest one-sided p any rank test can give with sample
      sizes n1 and n2, 1 / C(n1 + n2, n1) (5 vs 5 seeds cannot go below p = 0.004).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats

ArrayLike = Sequence[float] | npt.NDArray[np.floating]
EXACT_LIMIT = 20_000  # largest C(n1 + n2, n1) tested exactly
DEFAULT_RESAMPLES = 2_000
DEFAULT_SEED = 0


class MannWhitney(NamedTuple):
    """Result of a one-sided Mann-Whitney U test.

    Attributes:
        u: The U statistic of the first sample.
        p: The one-sided p-value of "first sample larger".
        method: "exact", "permutation", "asymptotic" or "none" (a sample was empty).
    """

    u: float
    p: float
    method: str


def _clean(x: ArrayLike) -> npt.NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64).ravel()
    return arr[~np.isnan(arr)]


def mann_whitney_greater(a: ArrayLike, b: ArrayLike) -> MannWhitney:
    """One-sided Mann-Whitney U test that values in `a` tend to exceed those in `b`.

    Args:
        a: First sample (NaNs dropped).
        b: Second sample (NaNs dropped).

    Returns:
        The U statistic of `a`, the p-value and the method used; p is NaN when a sample is
        empty.
    """
    x, y = _clean(a), _clean(b)
    if x.size == 0 or y.size == 0:
        return MannWhitney(math.nan, math.nan, "none")
    if math.comb(x.size + y.size, x.size) <= EXACT_LIMIT:
        ties = np.unique(np.concatenate([x, y])).size < x.size + y.size
        if ties:
            method: str | stats.PermutationMethod = stats.PermutationMethod(
                n_resamples=EXACT_LIMIT)
            name = "permutation"
        else:
            method, name = "exact", "exact"
    else:
        method, name = "asymptotic", "asymptotic"
    res = stats.mannwhitneyu(x, y, alternative="greater", method=method)
    return MannWhitney(float(res.statistic), float(res.pvalue), name)


def holm(pvalues: ArrayLike) -> npt.NDArray[np.float64]:
    """Holm's step-down adjusted p-values (reject where adjusted p <= alpha).

    Args:
        pvalues: Raw p-values; NaNs stay NaN and are not counted as tests.

    Returns:
        Adjusted p-values in the input order, each in [0, 1].
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def a12(a: ArrayLike, b: ArrayLike) -> float:
    """Vargha-Delaney A12: P(A > B) + 0.5 P(A = B) over all cross-sample pairs.

    Args:
        a: First sample (NaNs dropped).
        b: Second sample (NaNs dropped).

    Returns:
        The effect size in [0, 1], or NaN when a sample is empty.
    """
    x, y = _clean(a), _clean(b)
    if x.size == 0 or y.size == 0:
        return math.nan
    ys = np.sort(y)
    below = np.searchsorted(ys, x, side="left")
    at_or_below = np.searchsorted(ys, x, side="right")
    greater = below.sum()
    equal = (at_or_below - below).sum()
    return float((greater + 0.5 * equal) / (x.size * y.size))


def bootstrap_ci(
    values: ArrayLike,
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean.

    Args:
        values: The sample (NaNs dropped).
        confidence: Nominal coverage, e.g. 0.95.
        n_resamples: Number of bootstrap resamples.
        seed: Seed of the `numpy.random.Generator` that draws the resamples.

    Returns:
        (low, high); both NaN for an empty sample, both the value for a single one.
    """
    x = _clean(values)
    if x.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))
    means = x[idx].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def min_attainable_p(n1: int, n2: int) -> float:
    """Smallest one-sided p-value a rank test can reach with sample sizes n1 and n2.

    Args:
        n1: Size of the first sample.
        n2: Size of the second sample.

    Returns:
        1 / C(n1 + n2, n1), or 1.0 when a sample is empty.
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0
    return 1.0 / math.comb(n1 + n2, n1)
