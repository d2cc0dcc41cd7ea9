"""Known-answer tests for `reports.ranking`: the Friedman ranking, post-hoc tests, groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from reports.ranking import common_seeds, ranking_table, seed_matrix, summarize_ranking
from reports.reading import headline
from reports.summaries import summarize_tests


def cells_of(scores: dict[tuple[str, str], list[float]], device: str = "cpu") -> pd.DataFrame:
    """A `summarize_cells`-like table with the given per-seed true final (and the same final
    best and area), no regret (live-like)."""
    rows = [{"strategy": s, "pruner": p, "device": device, "seed": i, "true_final": v,
             "final_best": v, "area": v, "regret_final": np.nan}
            for (s, p), values in scores.items() for i, v in enumerate(values)]
    return pd.DataFrame(rows)


def known_groups() -> pd.DataFrame:
    """12 seeds: A and B trade places by tiny margins; C is worse than both on every seed."""
    rng = np.random.default_rng(0)
    base = 0.95 + 0.002 * rng.standard_normal(12)
    wiggle = 0.0005 * np.array([1, -1, 1, 1, -1, 1, -1, 1, -1, 1, 1, -1])
    return cells_of({("tpe", "median"): list(base + wiggle), ("tpe", "none"): list(base),
                     ("random", "none"): list(base - 0.05)})


def test_hand_made_groups_are_found() -> None:
    cells = known_groups()
    tests = summarize_tests(cells, alpha=0.05)
    (r,) = summarize_ranking(cells, tests, alpha=0.05)
    assert r.rejected and r.n_seeds == 12
    assert r.best == ("tpe", "median")  # ahead on 7 of 12 seeds
    assert r.table["mean_rank"].tolist() == pytest.approx([1 + 5 / 12, 2 - 5 / 12, 3.0])
    assert r.groups == [[("tpe", "median"), ("tpe", "none")]]  # C differs from both
    assert r.tied_with_best == [("tpe", "none")]
    ref = scipy_stats.friedmanchisquare(*seed_matrix(cells, "true_final").to_numpy().T)
    assert (r.statistic, r.p) == pytest.approx((ref.statistic, ref.pvalue))
    table = ranking_table([r]).set_index("strategy")
    assert table.loc["random", "groups"] == "" and table.loc["tpe", "groups"].tolist() == [
        "1", "1"]
    sentence = headline(r, 0.05)
    assert sentence.startswith("Use TPE with the median pruner: it ranked first on the test "
                               "accuracy of the configuration it chose (mean rank 1.4 of 3 "
                               "over 12 seeds; Friedman p < 0.001), but it cannot be told "
                               "apart from TPE without pruning (paired Wilcoxon, Holm")


def test_only_seeds_every_pair_ran_are_blocks() -> None:
    cells = known_groups()
    extra = cells_of({("tpe", "none"): [0.5] * 14})  # seeds 12 and 13 only this pair ran
    cells = pd.concat([cells, extra[extra["seed"] >= 12]], ignore_index=True)
    assert common_seeds(cells) == list(range(12))
    (r,) = summarize_ranking(cells, summarize_tests(cells), alpha=0.05)
    assert r.n_seeds == 12 and r.best == ("tpe", "median")
    assert seed_matrix(cells, "true_final").shape == (12, 3)


def test_a_friedman_that_does_not_reject_joins_everything() -> None:
    rng = np.random.default_rng(1)
    same = {(s, "none"): list(0.95 + 0.01 * rng.standard_normal(8))
            for s in ("random", "tpe", "cmaes")}
    cells = cells_of(same)
    (r,) = summarize_ranking(cells, summarize_tests(cells), alpha=0.05)
    assert not r.rejected
    assert r.groups == [list(zip(r.table["strategy"], r.table["pruner"], strict=True))]
    assert headline(r, 0.05).startswith("No sampler/pruner pair can be recommended")


def test_a_cell_that_chose_nothing_ranks_last() -> None:
    cells = cells_of({("tpe", "none"): [0.9, np.nan, 0.9, 0.9],
                      ("random", "none"): [0.8, 0.8, 0.8, 0.8]})
    wide = seed_matrix(cells, "true_final")
    assert wide.loc[1, ("tpe", "none")] == 0.0  # nothing handed over scores 0
    (r,) = summarize_ranking(cells, summarize_tests(cells), alpha=0.05)
    assert r.table["mean_rank"].tolist() == [1.25, 1.75]


def test_devices_are_ranked_apart() -> None:
    cells = pd.concat([known_groups(), known_groups().assign(device="cuda")])
    rankings = summarize_ranking(cells, summarize_tests(cells), alpha=0.05)
    assert [r.device for r in rankings] == ["cpu", "cuda"]
    assert all(r.n_seeds == 12 for r in rankings)
