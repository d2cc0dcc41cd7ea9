"""Known-answer tests for `reports.stats`."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

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
