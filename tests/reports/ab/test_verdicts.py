"""The A/B verdicts on planted per-seed metrics: worse, better, equivalent, inconclusive."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reports.ab.verdicts import (
    ABSettings,
    any_worse,
    detectable_shift,
    hard_checks,
    mean_interval,
    metric_verdicts,
    pair_verdicts,
    time_ratios,
)


def seeds(values: dict[str, np.ndarray], area_shift: float = 0.0) -> pd.DataFrame:
    """Per-seed metrics (`seed_metrics` columns that matter) of pairs strategy -> true_final."""
    rows = []
    for strategy, finals in values.items():
        for seed, v in enumerate(finals):
            rows.append({"strategy": strategy, "pruner": "none", "device": "cpu", "seed": seed,
                         "true_final": v, "true_area": v - 0.003 + area_shift,
                         "n_failed": 0, "n_complete": 40, "first_params": "x"})
    return pd.DataFrame(rows)


RNG = np.random.default_rng(0)
BASE = 0.97 + RNG.normal(0, 0.0005, 60)


def _verdicts(a: pd.DataFrame, b: pd.DataFrame, **kw: object) -> pd.DataFrame:
    return metric_verdicts(a, b, ABSettings(**kw)).set_index(["strategy", "metric"])


def test_identical_sides_are_equivalent() -> None:
    m = _verdicts(seeds({"tpe": BASE}), seeds({"tpe": BASE}))
    assert set(m["verdict"]) == {"equivalent"}
    assert (m["ci_low"] == 0).all() and (m["ci_high"] == 0).all() and (m["p_worse"] == 1).all()


def test_a_planted_shortfall_is_worse_and_its_mirror_better() -> None:
    worse = BASE - 0.0003 + RNG.normal(0, 0.0001, 60)
    m = _verdicts(seeds({"tpe": BASE, "random": BASE}), seeds({"tpe": worse, "random": BASE}))
    assert m.loc[("tpe", "true_final"), "verdict"] == "worse"
    assert m.loc[("random", "true_final"), "verdict"] == "equivalent"
    mirrored = _verdicts(seeds({"tpe": worse}), seeds({"tpe": BASE}))
    assert set(mirrored["verdict"]) == {"better"}


def test_a_shortfall_within_the_tolerance_is_not_worse() -> None:
    slightly = BASE - 0.00002  # significant, but half the default tolerance
    m = _verdicts(seeds({"tpe": BASE}), seeds({"tpe": slightly}), margin=0.0001)
    assert set(m["verdict"]) == {"equivalent"}
    tight = _verdicts(seeds({"tpe": BASE}), seeds({"tpe": slightly}), margin=0.00001)
    assert set(tight["verdict"]) == {"inconclusive"}
    assert tight["detail"].str.contains("within the tolerance").all()


def test_noise_without_a_shift_is_inconclusive_with_its_power() -> None:
    noisy = BASE + RNG.normal(0, 0.002, 60)
    m = _verdicts(seeds({"tpe": BASE}), seeds({"tpe": noisy}))
    row = m.loc[("tpe", "true_final")]
    assert row["verdict"] == "inconclusive"
    assert row["detectable"] > row["tolerance"] and "80% power only for shifts" in row["detail"]


def test_too_few_seeds_cannot_reach_alpha() -> None:
    assert math.isinf(detectable_shift(np.array([0.1, 0.2, 0.3]), 0.05 / 4))
    assert detectable_shift(np.full(60, 0.001) + RNG.normal(0, 1e-4, 60), 0.05) < 1e-4


def test_the_interval_is_seeded_and_holds_the_mean() -> None:
    d = RNG.normal(0.001, 0.002, 40)
    low, high = mean_interval(d, 0.95)
    assert (low, high) == mean_interval(d, 0.95) and low < d.mean() < high


def test_a_lost_seed_makes_the_pair_worse() -> None:
    a, b = seeds({"tpe": BASE}), seeds({"tpe": BASE})
    b.loc[3, "n_complete"] = 0
    pairs = pair_verdicts(metric_verdicts(a, b), hard_checks(a, b))
    assert pairs["verdict"].tolist() == ["worse"] and "without a COMPLETE" in pairs["why"][0]
    assert any_worse(pairs)


def test_time_ratio_of_a_sampler_twice_as_slow() -> None:
    def trials(scale: float) -> pd.DataFrame:
        return pd.DataFrame({"strategy": "tpe", "pruner": "none", "device": "cpu",
                             "seed": np.repeat(np.arange(20), 10),
                             "sampler_s": scale * (0.001 + RNG.uniform(0, 1e-4, 200))})
    t = time_ratios(trials(1.0), trials(2.0)).iloc[0]
    assert t["ratio"] == pytest.approx(2.0, rel=0.05)
    assert t["ratio_low"] < t["ratio"] < t["ratio_high"]
