"""Known-answer tests for `reports.curves` and `reports.summaries`."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.results.schema import TRIALS_FILE, read_table
from reports import stats
from reports.curves import best_so_far, carry_forward, seed_quantiles
from reports.summaries import (
    summarize_cells,
    summarize_curves,
    summarize_pairs,
    summarize_pruning,
    summarize_ranks,
    summarize_tests,
)

TableMaker = Callable[[pd.DataFrame], pd.DataFrame]
NAN = float("nan")


def cell(strategy: str, seed: int, states: str, values: list[float],
         durations: list[float] | None = None, pruner: str = "none") -> pd.DataFrame:
    """One cell's trials from a string of state letters (C, P, F) and values."""
    names = {"C": "COMPLETE", "P": "PRUNED", "F": "FAIL"}
    n = len(states)
    return pd.DataFrame({
        "strategy": strategy, "pruner": pruner, "seed": seed, "trial": range(n),
        "state": [names[s] for s in states], "value": values,
        "duration_s": durations if durations is not None else [1.0] * n,
        "epochs_completed": [1.0 if s == "P" else 3.0 for s in states]})


def test_carry_forward_takes_last_record_at_or_before() -> None:
    out = carry_forward([1.0, 3.0, 6.0], [NAN, 0.5, 0.7], [0, 1, 2, 2.99, 3, 5, 6, 10])
    np.testing.assert_array_equal(out, [NAN, NAN, NAN, NAN, 0.5, 0.5, 0.7, 0.7])


def test_seed_quantiles_rank_undefined_lowest() -> None:
    curves = np.array([[NAN, 0.9], [NAN, NAN], [0.8, 0.95]])
    q = seed_quantiles(curves, [0.5, 1.0])
    assert math.isnan(q[0, 0]) and q[1, 0] == 0.8  # median undefined while 2 of 3 are
    assert q[0, 1] == 0.9 and q[1, 1] == 0.95


def test_best_so_far_ignores_pruned_and_failed(trials_table: TableMaker) -> None:
    df = trials_table(cell("tpe", 0, "PCFCC", [0.99, 0.90, NAN, 0.85, 0.98]))
    best = best_so_far(df.sample(frac=1.0, random_state=0))  # row order must not matter
    np.testing.assert_array_equal(best["best"], [NAN, 0.90, 0.90, 0.90, 0.98])
    np.testing.assert_array_equal(best["k"], [1, 2, 3, 4, 5])


def test_cells_known_answers(trials_table: TableMaker) -> None:
    df = trials_table(pd.concat([
        cell("tpe", 0, "PCFCC", [0.99, 0.90, NAN, 0.97, 0.98], [1, 2, 3, 4, 5]),
        cell("tpe", 1, "CCCC", [0.90, 0.95, 0.95, 0.93], [1, 1, 1, 1]),
    ]))
    cells = summarize_cells(best_so_far(df), target=0.97).set_index("seed")
    a, b = cells.loc[0], cells.loc[1]
    assert a["final_best"] == 0.98 and a["area"] == pytest.approx((0 + .9 + .9 + .97 + .98) / 5)
    assert a["trials_to_target"] == 4 and a["time_to_target_s"] == 10.0
    assert a["epochs_to_target"] == 1 + 3 + 3 + 3
    assert a["chosen_trial"] == 4 and a["n_pruned"] == 1 and a["n_failed"] == 1
    assert a["share_pruned"] == 0.2 and a["wall_s"] == 15.0
    assert not b["reached"] and math.isnan(b["trials_to_target"])
    assert b["chosen_trial"] == 1  # tie at 0.95: the lower trial number
    assert b["test_accuracy"] == pytest.approx(0.95 - 0.002)


def test_ert_counts_seeds_that_never_reach_their_whole_budget(
        trials_table: TableMaker) -> None:
    df = trials_table(pd.concat([
        cell("tpe", 0, "CCC", [0.90, 0.97, 0.99], [1, 1, 1]),   # trial 2, 2 s, 6 epochs
        cell("tpe", 1, "CCC", [0.98, 0.90, 0.90], [4, 1, 1]),   # trial 1, 4 s, 3 epochs
        cell("tpe", 2, "CCC", [0.90, 0.90, 0.91], [1, 1, 1]),   # never: 3 trials, 3 s, 9 ep.
        cell("random", 0, "CCC", [0.90, 0.90, 0.97], [4, 4, 4]),  # trial 3, 12 s, 9 epochs
        cell("random", 1, "CCC", [0.90, 0.90, 0.90], [1, 1, 1]),  # never: 3, 3 s, 9 epochs
    ]))
    pairs = summarize_pairs(summarize_cells(best_so_far(df), target=0.97)).set_index(
        "strategy")
    tpe, rnd = pairs.loc["tpe"], pairs.loc["random"]
    assert (tpe["n_reached"], tpe["n_missed"]) == (2, 1)
    assert tpe["ert_trials"] == pytest.approx((2 + 1 + 3) / 2)  # not the median 1.5
    assert tpe["ert_s"] == pytest.approx((2 + 4 + 3) / 2)
    assert tpe["ert_epochs"] == pytest.approx((6 + 3 + 9) / 2)
    assert rnd["ert_trials"] == pytest.approx((3 + 3) / 1)
    assert rnd["ert_s"] == pytest.approx((12 + 3) / 1)
    assert tpe["speedup_vs_random"] == pytest.approx(15 / 4.5)
    assert rnd["speedup_vs_random"] == pytest.approx(1.0)
    assert not any(c.endswith("to_target_median") or c == "time_to_target_median_s"
                   for c in pairs.columns)  # no medians over different seed subsets


def test_speedup_when_random_never_reaches_is_absent_or_both_never(
        trials_table: TableMaker) -> None:
    tpe = cell("tpe", 0, "CC", [0.9, 0.98])
    tpe_never = cell("tpe", 0, "CC", [0.9, 0.9])
    never = cell("random", 0, "CC", [0.9, 0.9])

    def pairs(*frames: pd.DataFrame) -> pd.DataFrame:
        cells = summarize_cells(best_so_far(trials_table(pd.concat(frames))), target=0.97)
        return summarize_pairs(cells).set_index("strategy")

    assert math.isinf(pairs(tpe, never).loc["tpe", "speedup_vs_random"])  # only random missed
    assert math.isinf(pairs(tpe, never).loc["random", "ert_s"])
    assert math.isnan(pairs(tpe).loc["tpe", "speedup_vs_random"])  # no random
    both = pairs(tpe_never, never)
    assert math.isinf(both.loc["tpe", "ert_trials"]) and math.isinf(both.loc["tpe", "ert_s"])
    assert math.isnan(both.loc["tpe", "speedup_vs_random"])  # inf / inf
    assert pairs(cell("tpe", 0, "CC", [0.98, 0.9]), cell("random", 0, "CC", [0.9, 0.98])).loc[
        "random", "speedup_vs_random"] == pytest.approx(1.0)


def test_pair_ci_is_the_bootstrap_of_final_best(make_results: Callable[..., Path],
                                                tmp_path: Path) -> None:
    trials = read_table(make_results(tmp_path, seeds=8), TRIALS_FILE)
    cells = summarize_cells(best_so_far(trials), target=0.97)
    pairs = summarize_pairs(cells).set_index("strategy")
    values = cells.loc[cells["strategy"] == "tpe", "final_best"].to_numpy()
    lo, hi = stats.bootstrap_ci(values, seed=0)
    assert (pairs.loc["tpe", "final_best_ci_low"], pairs.loc["tpe", "final_best_ci_high"]) == (
        lo, hi)
    assert lo <= pairs.loc["tpe", "final_best_mean"] <= hi


def test_curves_on_trial_axis_are_seed_medians(trials_table: TableMaker) -> None:
    df = trials_table(pd.concat([
        cell("tpe", 0, "CCC", [0.90, 0.95, 0.93]),
        cell("tpe", 1, "CCC", [0.80, 0.85, 0.99]),
        cell("tpe", 2, "PCC", [0.99, 0.91, 0.92]),
    ]))
    out = summarize_curves(best_so_far(df), "k")
    np.testing.assert_allclose(out["x"], [1, 2, 3])
    # Trial 1: seed 2 undefined ranks lowest, so the median is the middle of (-, .8, .9).
    np.testing.assert_allclose(out["median"], [0.80, 0.91, 0.95])
    assert (out["n_seeds"] == 3).all()


def test_time_axis_carries_forward(trials_table: TableMaker) -> None:
    df = trials_table(pd.concat([cell("tpe", 0, "CC", [0.9, 0.95], [10, 10]),
                                 cell("random", 0, "CC", [0.8, 0.85], [1, 39])]))
    out = summarize_curves(best_so_far(df), "elapsed_s", n_points=5)  # grid 0, 10, ..., 40
    tpe = out[out["strategy"] == "tpe"]["median"].to_numpy()
    rnd = out[out["strategy"] == "random"]["median"].to_numpy()
    np.testing.assert_array_equal(tpe, [NAN, 0.9, 0.95, 0.95, 0.95])
    np.testing.assert_array_equal(rnd, [NAN, 0.8, 0.8, 0.8, 0.85])  # not 0.85 before 40 s


def test_ranks_of_a_planted_order(trials_table: TableMaker) -> None:
    frames = []
    for seed in range(4):
        frames += [cell("tpe", seed, "CCC", [0.91, 0.95, 0.97]),
                   cell("random", seed, "CCC", [0.90, 0.94, 0.96]),
                   cell("cmaes", seed, "CCC", [0.90, 0.93, 0.97])]
    ranks = summarize_ranks(best_so_far(trials_table(pd.concat(frames))))
    r = ranks.pivot(index="k", columns="strategy", values="mean_rank")
    np.testing.assert_allclose(r["tpe"], [1, 1, 1.5])
    np.testing.assert_allclose(r["random"], [2.5, 2, 3])
    np.testing.assert_allclose(r["cmaes"], [2.5, 3, 1.5])
    assert (ranks["n_seeds"] == 4).all()


def test_pruning_shares_add_up(make_results: Callable[..., Path], tmp_path: Path) -> None:
    trials = read_table(make_results(tmp_path, pairs=[("tpe", "median"), ("tpe", "none")]),
                        TRIALS_FILE)
    curves = best_so_far(trials)
    pruning = summarize_pruning(curves)
    pairs = summarize_pairs(summarize_cells(curves, target=0.97)).set_index("pruner")
    assert set(pruning["pruner"]) == {"median"}
    assert pruning["share"].sum() == pytest.approx(pairs.loc["median", "share_pruned"])
    assert pruning["n_pruned"].sum() == (trials["state"] == "PRUNED").sum()


def _tests_for(make_results: Callable[..., Path], root: Path, effect: float,
               seeds: int) -> pd.DataFrame:
    path = make_results(root, pairs=[("random", "none"), ("tpe", "none")], seeds=seeds,
                        effect={("tpe", "none"): effect}, rng_seed=11)
    cells = summarize_cells(best_so_far(read_table(path, TRIALS_FILE)), target=0.97)
    return summarize_tests(cells, alpha=0.05).set_index("metric")


def test_planted_difference_gives_expected_decisions(make_results: Callable[..., Path],
                                                     tmp_path: Path) -> None:
    tests = _tests_for(make_results, tmp_path, effect=0.03, seeds=10)
    assert len(tests) == 3  # one unordered pair x three metrics
    for metric in ("true_final", "final_best", "area"):
        row = tests.loc[metric]
        assert row["a_strategy"] == "tpe" and row["b_strategy"] == "random"  # oriented
        assert row["significant"] and row["n_seeds"] == 10
        assert row["a_better"] > 0.8 and row["median_diff"] > 0
    assert (tests["p_holm"] >= tests["p"]).all()


def test_paired_test_is_the_wilcoxon_of_the_per_seed_differences(
        make_results: Callable[..., Path], tmp_path: Path) -> None:
    path = make_results(tmp_path, pairs=[("random", "none"), ("tpe", "none")], seeds=8,
                        effect={("tpe", "none"): 0.01}, rng_seed=4)
    cells = summarize_cells(best_so_far(read_table(path, TRIALS_FILE)), target=0.97)
    row = summarize_tests(cells).set_index("metric").loc["final_best"]
    wide = cells.pivot(index="seed", columns="strategy", values="final_best")
    a, b = wide[row["a_strategy"]], wide[row["b_strategy"]]
    assert row["p"] == pytest.approx(stats.wilcoxon_paired(a, b).p)
    assert row["p"] != pytest.approx(stats.mann_whitney_greater(a, b).p)  # not unpaired


def test_no_difference_gives_no_significant_test(make_results: Callable[..., Path],
                                                 tmp_path: Path) -> None:
    tests = _tests_for(make_results, tmp_path, effect=0.0, seeds=10)
    assert not tests["significant"].any()
    assert tests["a_better"].between(0.2, 0.8).all()


def test_too_few_seeds_are_flagged_unreachable(make_results: Callable[..., Path],
                                               tmp_path: Path) -> None:
    tests = _tests_for(make_results, tmp_path, effect=0.2, seeds=2)
    assert not tests["reachable"].any()  # 2 seeds: two-sided p >= 2 / 2**2
    assert not tests["significant"].any()
    np.testing.assert_allclose(tests["min_p"], 0.5)
    assert tests.loc["final_best", "p"] == pytest.approx(0.5)  # best it can do


def test_a_cell_of_overlapping_trials_is_read_in_order_of_completion(
        trials_table: TableMaker) -> None:
    """Two workers: trial 0 runs 0-10 s, trial 1 0-4 s, trial 2 4-6 s (its datetimes, as the
    simulated workers store them). The k-th row is the k-th to finish, time is the cell's
    clock, and the wall time is the clock at the last end, not the sum of durations."""
    df = trials_table(cell("tpe", 0, "CCC", [0.98, 0.90, 0.95], [10.0, 4.0, 2.0]))
    origin = pd.Timestamp("2026-01-01")
    df["datetime_start"] = origin + pd.to_timedelta([0.0, 0.0, 4.0], unit="s")
    df["datetime_complete"] = origin + pd.to_timedelta([10.0, 4.0, 6.0], unit="s")
    best = best_so_far(df.sample(frac=1.0, random_state=1))
    np.testing.assert_array_equal(best["trial"], [1, 2, 0])
    np.testing.assert_array_equal(best["best"], [0.90, 0.95, 0.98])
    np.testing.assert_allclose(best["elapsed_s"], [4.0, 6.0, 10.0])
    cells = summarize_cells(best, target=0.95).iloc[0]
    assert cells["trials_to_target"] == 2 and cells["time_to_target_s"] == 6.0
    assert cells["wall_s"] == 10.0  # the serial sum would be 16
    serial = best_so_far(trials_table(cell("tpe", 0, "CCC", [0.98, 0.90, 0.95],
                                           [10.0, 4.0, 2.0])))
    np.testing.assert_allclose(serial["elapsed_s"], [10.0, 14.0, 16.0])  # one after another
