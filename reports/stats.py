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
from collections.abc import Hashable, Sequence
from typing import NamedTuple, TypeVar

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
    seed: int | Sequence[int] = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean.

    Args:
        values: The sample (NaNs dropped).
        confidence: Nominal coverage, e.g. 0.95.
        n_resamples: Number of bootstrap resamples.
        seed: Seed (or seed sequence) of the `numpy.random.Generator` that draws the
            resamples.

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


# Paired (blocked) designs: every strategy x pruner pair runs the same seeds.
#   - `friedman(scores)`: Friedman's chi-square test on a (seeds x pairs) matrix; each row
#     (seed) is ranked, 1 = highest score, ties share the mean rank; the statistic carries the
#     tie correction and p is the chi-square tail with pairs - 1 degrees of freedom (as
#     `scipy.stats.friedmanchisquare`, which needs three or more pairs; this works from two).
#   - `wilcoxon_paired(a, b)`: two-sided Wilcoxon signed-rank test on the per-seed
#     differences a - b (rounded to 12 decimals); zero differences are dropped (Wilcoxon's
#     method); up to `PAIRED_EXACT_LIMIT` nonzero differences the p-value is exact (every
#     sign flip, midranks for ties), beyond it the normal approximation with tie correction.
#   - `min_attainable_p_paired(n)`: the smallest two-sided p of a signed-rank test on n
#     nonzero differences, 2 / 2**n (5 seeds cannot go below p = 0.0625).
#   - `indistinguishable_groups(order, different)`: the groups a critical-difference diagram
#     joins with a bar: runs of consecutive pairs (in mean-rank order) no two of which differ,
#     keeping only runs not inside a longer one.
#   - `expected_running_time(costs, budgets, reached)`: COCO's ERT, the total cost of every
#     seed (its cost to the target, or its whole budget if it never reached it) divided by the
#     number of seeds that reached it; infinite when none did.
PAIRED_EXACT_LIMIT = 14  # up to 2**14 sign flips enumerated
T = TypeVar("T", bound=Hashable)


class Friedman(NamedTuple):
    """Result of a Friedman test.

    Attributes:
        statistic: The tie-corrected chi-square statistic.
        p: Its p-value (chi-square, pairs - 1 degrees of freedom); 1.0 when every row is tied.
        mean_ranks: Mean rank of each column over rows (1 = highest score).
        n_blocks: Rows (seeds) used.
    """

    statistic: float
    p: float
    mean_ranks: npt.NDArray[np.float64]
    n_blocks: int


def friedman(scores: npt.ArrayLike) -> Friedman:
    """Friedman's test that the columns of a (blocks x treatments) matrix differ.

    Args:
        scores: Matrix of shape (seeds, pairs), higher = better, no NaN.

    Returns:
        The statistic, p-value, mean ranks (1 = best) and number of blocks; NaN statistic and
        p when there are fewer than two rows or columns.
    """
    x = np.asarray(scores, dtype=np.float64)
    n, k = x.shape
    ranks = stats.rankdata(-x, axis=1) if x.size else np.zeros((n, k))
    mean_ranks = ranks.mean(axis=0) if n else np.full(k, np.nan)
    if n < 2 or k < 2:
        return Friedman(math.nan, math.nan, mean_ranks, n)
    ties = 0.0
    for row in x:
        _, counts = np.unique(row, return_counts=True)
        ties += float((counts**3 - counts).sum())
    correction = 1.0 - ties / (n * k * (k * k - 1))
    if correction <= 0.0:
        return Friedman(0.0, 1.0, mean_ranks, n)
    sums = ranks.sum(axis=0)
    chi2 = (12.0 / (n * k * (k + 1)) * float((sums**2).sum()) - 3.0 * n * (k + 1)) / correction
    return Friedman(float(chi2), float(stats.chi2.sf(chi2, k - 1)), mean_ranks, n)


class Wilcoxon(NamedTuple):
    """Result of a two-sided Wilcoxon signed-rank test on paired differences.

    Attributes:
        w_plus: Sum of the ranks of the positive differences (a > b).
        p: Two-sided p-value; 1.0 when every difference is zero, NaN with no pairs.
        n_nonzero: Differences that were not zero (the test's sample size).
        method: "exact", "asymptotic", "all tied" or "none".
    """

    w_plus: float
    p: float
    n_nonzero: int
    method: str


def wilcoxon_paired(a: ArrayLike, b: ArrayLike) -> Wilcoxon:
    """Two-sided Wilcoxon signed-rank test on the paired differences a - b.

    Args:
        a: First sample, one value per seed.
        b: Second sample, same seeds in the same order; pairs with a NaN are dropped.

    Returns:
        W+, the p-value, the number of nonzero differences and the method.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    d = np.round(x - y, 12)  # float noise of means must neither break ties nor make signs
    d = d[~np.isnan(d)]
    if d.size == 0:
        return Wilcoxon(math.nan, math.nan, 0, "none")
    d = d[d != 0.0]
    if d.size == 0:
        return Wilcoxon(0.0, 1.0, 0, "all tied")
    ranks = stats.rankdata(np.abs(d))
    w_plus = float(ranks[d > 0].sum())
    if d.size <= PAIRED_EXACT_LIMIT:
        signs = ((np.arange(2 ** d.size)[:, None] >> np.arange(d.size)) & 1).astype(bool)
        null = (signs * ranks).sum(axis=1)
        centre = ranks.sum() / 2.0
        extreme = np.abs(null - centre) >= abs(w_plus - centre) - 1e-9
        return Wilcoxon(w_plus, float(extreme.mean()), int(d.size), "exact")
    res = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided", method="approx")
    return Wilcoxon(w_plus, float(res.pvalue), int(d.size), "asymptotic")


def min_attainable_p_paired(n: int) -> float:
    """Smallest two-sided p-value of a signed-rank test on n nonzero paired differences.

    Args:
        n: Number of seeds (nonzero differences).

    Returns:
        2 / 2**n, capped at 1.
    """
    return min(1.0, 2.0 / 2.0**n) if n > 0 else 1.0


def indistinguishable_groups(order: Sequence[T],
                             different: set[frozenset[T]]) -> list[list[T]]:
    """Maximal runs of consecutive names (in `order`) no two of which are told apart.

    Args:
        order: Names sorted by mean rank, best first.
        different: The pairs of names a test told apart, as frozensets of two names.

    Returns:
        Groups of two or more names, in order of their first member; a name that differs
        from both neighbours is in no group.
    """
    runs: list[tuple[int, int]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and all(
                frozenset((order[m], order[j + 1])) not in different for m in range(i, j + 1)):
            j += 1
        if j > i and not any(lo <= i and j <= hi for lo, hi in runs):
            runs.append((i, j))
    return [list(order[lo:hi + 1]) for lo, hi in runs]


def expected_running_time(costs: ArrayLike, budgets: ArrayLike,
                          reached: Sequence[bool] | npt.NDArray[np.bool_]) -> float:
    """COCO's expected running time to a target over seeds.

    Args:
        costs: Each seed's cost until it reached the target (ignored where it did not).
        budgets: Each seed's whole cost (trials, seconds or epochs it ran).
        reached: Whether each seed reached the target.

    Returns:
        (sum of costs of the seeds that reached it + sum of budgets of those that did not) /
        number that reached it; inf when none did, NaN with no seeds.
    """
    c = np.asarray(costs, dtype=np.float64).ravel()
    total = np.asarray(budgets, dtype=np.float64).ravel()
    hit = np.asarray(reached, dtype=bool).ravel()
    if hit.size == 0:
        return math.nan
    if not hit.any():
        return math.inf
    return float((c[hit].sum() + total[~hit].sum()) / hit.sum())
