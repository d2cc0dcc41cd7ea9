"""The gate's paired sign-flip test against exhaustive enumeration and the t-test."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from reports import stats as report_stats
from reports.paired import min_sign_flip_p, sign_flip_greater


def enumerated_mean_p(d: list[float]) -> float:
    """P(sum of sign-flipped |d| >= sum of d) over every sign vector."""
    a = np.abs(np.array(d))
    observed = float(np.sum(d))
    hits = sum(1 for signs in itertools.product((-1, 1), repeat=a.size)
               if float(np.dot(signs, a)) >= observed - 1e-12)
    return hits / 2 ** a.size


@pytest.mark.parametrize("d", [
    [0.3, -0.1, 0.2, 0.5, 0.4],
    [1.0, 1.0, 2.0, -1.0, 3.0, 2.0],
    [-0.2, -0.1, -0.3, 0.05, -0.4, -0.6, 0.01],
    [0.001] * 7 + [-0.0002] * 5,
])
def test_sign_flip_matches_exhaustive_enumeration(d: list[float]) -> None:
    result = sign_flip_greater(d)
    assert result.method == "exact" and result.p == pytest.approx(enumerated_mean_p(d))
    assert result.mean == pytest.approx(np.mean(d))


def test_sign_flip_weighs_how_far_a_seed_fell() -> None:
    # Three seeds fall far, nine rise a little: ranks say "mostly better", the mean says worse.
    d = [0.01, 0.01, 0.01] + [-0.0005] * 9
    ranks = report_stats.wilcoxon_paired(d, np.zeros(len(d)))
    assert ranks.w_plus < ranks.n_nonzero * (ranks.n_nonzero + 1) / 4  # ranks lean "better"
    assert ranks.p > 0.5
    assert sign_flip_greater(d).p < 0.15


def test_sign_flip_monte_carlo_agrees_with_the_t_test_on_normal_data() -> None:
    d = np.random.default_rng(3).normal(0.15, 1.0, 60)
    result = sign_flip_greater(d)
    assert result.method == "monte-carlo" and result.n == 60
    assert result.p == pytest.approx(stats.ttest_1samp(d, 0, alternative="greater").pvalue,
                                     abs=0.01)
    assert sign_flip_greater(d) == result  # seeded: the same answer every time
    assert sign_flip_greater(np.full(40, 0.1)).p == min_sign_flip_p(40) == 1 / 20_001
    assert sign_flip_greater([0.0, 0.0]).p == 1.0 and min_sign_flip_p(3) == 1 / 8
