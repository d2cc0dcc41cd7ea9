"""Known-answer tests for `reports.stats`."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from reports import stats


def brute_force_p(a: list[float], b: list[float]) -> float:
    """Exact one-sided p of U(a) >= observed over every split of the pooled sample."""
    pooled = np.array(a + b)

    def u(x: np.ndarray, y: np.ndarray) -> float:
        return float(((x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])).sum())

    observed = u(np.array(a), np.array(b))
    splits = list(itertools.combinations(range(len(pooled)), len(a)))
    hits = 0
    for idx in splits:
        mask = np.zeros(len(pooled), bool)
        mask[list(idx)] = True
        hits += u(pooled[mask], pooled[~mask]) >= observed - 1e-9
    return hits / len(splits)


def test_min_attainable_p_known_values() -> None:
    assert stats.min_attainable_p(5, 5) == pytest.approx(1 / 252)
    assert stats.min_attainable_p(3, 3) == pytest.approx(0.05)
    assert stats.min_attainable_p(1, 10) == pytest.approx(1 / 11)
    assert stats.min_attainable_p(0, 4) == 1.0


def test_complete_separation_reaches_min_attainable_p() -> None:
    a, b = [0.95, 0.96, 0.97, 0.98, 0.99], [0.90, 0.91, 0.92, 0.93, 0.94]
    res = stats.mann_whitney_greater(a, b)
    assert res.method == "exact"
    assert res.p == pytest.approx(stats.min_attainable_p(5, 5))
    assert res.u == 25
    assert stats.mann_whitney_greater(b, a).p == pytest.approx(1.0)


def test_small_samples_with_ties_match_enumeration() -> None:
    a, b = [0.97, 0.97, 0.98, 0.95], [0.95, 0.96, 0.97, 0.95, 0.94]
    res = stats.mann_whitney_greater(a, b)
    assert res.method == "permutation"
    assert res.p == pytest.approx(brute_force_p(a, b), abs=1e-9)


def test_planted_difference_is_found_one_sided() -> None:
    rng = np.random.default_rng(1)
    better = 0.96 + 0.005 * rng.standard_normal(20)
    worse = 0.95 + 0.005 * rng.standard_normal(20)
    assert stats.mann_whitney_greater(better, worse).p < 0.001
    assert stats.mann_whitney_greater(worse, better).p > 0.5


@pytest.mark.parametrize("n", [6, 15])  # exact and asymptotic paths
def test_false_positive_rate_is_at_most_nominal(n: int) -> None:
    rng = np.random.default_rng(2)
    reps = 400
    draws = rng.normal(size=(reps, 2, n))
    rate = np.mean([stats.mann_whitney_greater(d[0], d[1]).p <= 0.05 for d in draws])
    sd = math.sqrt(0.05 * 0.95 / reps)
    assert 0.05 - 4 * sd <= rate <= 0.05 + 3 * sd


def test_empty_sample_gives_nan() -> None:
    assert math.isnan(stats.mann_whitney_greater([], [1.0]).p)
    assert math.isnan(stats.mann_whitney_greater([np.nan], [1.0]).p)
    assert math.isnan(stats.a12([], [1.0]))


def test_holm_textbook_example() -> None:
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])


def test_holm_ignores_nan_and_caps_at_one() -> None:
    adjusted = stats.holm([0.2, np.nan, 0.6])
    assert math.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2]], [0.4, 0.6])
    assert stats.holm([0.9, 0.8]).max() == 1.0
    assert stats.holm([]).size == 0


def test_a12_known_values() -> None:
    assert stats.a12([1, 2, 3], [1, 2, 3]) == 0.5
    assert stats.a12([4, 5], [1, 2]) == 1.0
    assert stats.a12([1, 2], [4, 5]) == 0.0
    assert stats.a12([1, 3], [2]) == 0.5


def test_a12_matches_pairwise_definition_and_u() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 5, 17).astype(float)
    b = rng.integers(0, 5, 11).astype(float)
    brute = np.mean([(x > y) + 0.5 * (x == y) for x in a for y in b])
    assert stats.a12(a, b) == pytest.approx(brute)
    assert stats.a12(a, b) + stats.a12(b, a) == pytest.approx(1.0)
    assert stats.a12(a, b) == pytest.approx(stats.mann_whitney_greater(a, b).u / (17 * 11))


def test_bootstrap_ci_covers_the_mean_at_nominal_rate() -> None:
    rng = np.random.default_rng(4)
    truth, reps, n = 0.95, 400, 30
    samples = truth + 0.01 * rng.standard_normal((reps, n))
    covered = [lo <= truth <= hi for lo, hi in
               (stats.bootstrap_ci(x, seed=i) for i, x in enumerate(samples))]
    # The percentile bootstrap runs slightly below nominal at n = 30 (about 0.93-0.94).
    assert 0.90 <= np.mean(covered) <= 0.98


def test_bootstrap_ci_is_reproducible_and_seeded() -> None:
    x = np.random.default_rng(5).normal(size=12)
    assert stats.bootstrap_ci(x, seed=7) == stats.bootstrap_ci(x, seed=7)
    assert stats.bootstrap_ci(x, seed=7) != stats.bootstrap_ci(x, seed=8)
    lo, hi = stats.bootstrap_ci(x)
    assert lo < x.mean() < hi
    assert stats.bootstrap_ci([0.9]) == (0.9, 0.9)
    assert all(math.isnan(v) for v in stats.bootstrap_ci([]))


@pytest.mark.parametrize(("n", "k", "levels"), [(5, 3, 0), (8, 4, 3), (12, 6, 0), (7, 3, 2)])
def test_friedman_matches_scipy(n: int, k: int, levels: int) -> None:
    rng = np.random.default_rng(n * k)
    x = rng.normal(size=(n, k)) + np.linspace(0, 1, k)
    if levels:  # rounded onto a few levels: ties within seeds exercise the correction
        x = np.round(x * levels) / levels
    ours = stats.friedman(x)
    ref = scipy_stats.friedmanchisquare(*x.T)
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.p == pytest.approx(ref.pvalue)
    np.testing.assert_allclose(ours.mean_ranks, scipy_stats.rankdata(-x, axis=1).mean(axis=0))
    assert ours.n_blocks == n


def test_friedman_known_answer_and_degenerate_cases() -> None:
    # Three seeds that all rank the columns 1, 2, 3: chi2 = 12/(3*3*4) * (9+36+81) - 36 = 6.
    x = np.array([[3.0, 2.0, 1.0]] * 3)
    res = stats.friedman(x)
    assert res.statistic == pytest.approx(6.0)
    assert res.p == pytest.approx(math.exp(-3.0))  # chi-square, 2 df: exp(-x / 2)
    np.testing.assert_allclose(res.mean_ranks, [1, 2, 3])  # highest score ranks 1
    tied = stats.friedman(np.ones((4, 3)))
    assert tied.p == 1.0 and tied.statistic == 0.0
    assert math.isnan(stats.friedman(np.ones((1, 3))).p)
    assert stats.friedman(np.array([[1.0, 0.0]] * 6)).p < 0.05  # two pairs work too


def brute_force_wilcoxon(d: list[float]) -> float:
    """Two-sided signed-rank p over every sign flip of the nonzero differences."""
    nz = np.array([x for x in d if x != 0])
    ranks = scipy_stats.rankdata(np.abs(nz))
    observed = abs(ranks[nz > 0].sum() - ranks.sum() / 2)
    hits = [abs(sum(r for r, s in zip(ranks, signs, strict=True) if s) - ranks.sum() / 2)
            >= observed - 1e-9 for signs in itertools.product([0, 1], repeat=len(nz))]
    return float(np.mean(hits))


def test_wilcoxon_paired_is_exact_with_ties_and_zeros() -> None:
    a = [0.97, 0.95, 0.96, 0.96, 0.94, 0.98, 0.95]
    b = [0.95, 0.95, 0.94, 0.97, 0.94, 0.96, 0.93]
    res = stats.wilcoxon_paired(a, b)
    d = list(np.array(a) - np.array(b))
    assert res.method == "exact" and res.n_nonzero == 5
    assert res.p == pytest.approx(brute_force_wilcoxon(d))
    assert stats.wilcoxon_paired(b, a).p == pytest.approx(res.p)  # two-sided


def test_wilcoxon_paired_matches_scipy_and_reaches_its_floor() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=9), rng.normal(size=9)
    assert stats.wilcoxon_paired(a, b).p == pytest.approx(scipy_stats.wilcoxon(a, b).pvalue)
    big_a, big_b = rng.normal(0.3, 1, 40), rng.normal(size=40)
    res = stats.wilcoxon_paired(big_a, big_b)
    assert res.method == "asymptotic"
    assert res.p == pytest.approx(scipy_stats.wilcoxon(big_a, big_b, method="approx").pvalue)
    up = stats.wilcoxon_paired([1, 2, 3, 4, 5], [0, 0, 0, 0, 0])
    assert up.p == pytest.approx(stats.min_attainable_p_paired(5)) == pytest.approx(0.0625)
    assert stats.wilcoxon_paired([1, 2], [1, 2]) == stats.Wilcoxon(0.0, 1.0, 0, "all tied")
    assert math.isnan(stats.wilcoxon_paired([np.nan], [1.0]).p)
    assert stats.min_attainable_p_paired(6) == pytest.approx(1 / 32)


def test_indistinguishable_groups_of_a_known_case() -> None:
    order = ["a", "b", "c", "d", "e"]
    apart = {frozenset(p) for p in [("a", "c"), ("a", "d"), ("a", "e"), ("b", "d"),
                                    ("b", "e"), ("c", "e")]}
    assert stats.indistinguishable_groups(order, apart) == [["a", "b"], ["b", "c"],
                                                           ["c", "d"], ["d", "e"]]
    apart2 = {frozenset(p) for p in [("a", "d"), ("a", "e"), ("b", "e")]}
    assert stats.indistinguishable_groups(order, apart2) == [["a", "b", "c"],
                                                            ["b", "c", "d"], ["c", "d", "e"]]
    assert stats.indistinguishable_groups(order, set()) == [order]
    every = {frozenset(p) for p in itertools.combinations(order, 2)}
    assert stats.indistinguishable_groups(order, every) == []


def test_expected_running_time_known_answers() -> None:
    # Seeds reach the target after 4 and 6 trials; a third never does in its 10-trial budget.
    assert stats.expected_running_time([4, 6, np.nan], [10, 10, 10],
                                       [True, True, False]) == pytest.approx((4 + 6 + 10) / 2)
    assert stats.expected_running_time([3, 5], [9, 9], [True, True]) == pytest.approx(4.0)
    assert stats.expected_running_time([np.nan, np.nan], [8, 9], [False, False]) == math.inf
    assert math.isnan(stats.expected_running_time([], [], []))
