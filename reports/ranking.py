"""The blocked ranking of strategy x pruner pairs over seeds: Friedman, post-hoc, groups.

The design is paired: every pair of a device ran the same seeds, so each seed is a block.
Definitions:
    - Scores: per seed the pair's `true_final` (the noise-free quality of the configuration
      it chose; live runs: its test accuracy), over the seeds every pair of the device ran.
      A cell without a COMPLETE trial handed the user nothing and scores 0.
    - Ranks: within each seed, 1 = best, ties share the mean rank; `mean_rank` averages them
      over seeds. Friedman's chi-square test (`reports.stats.friedman`) asks whether any pair
      ranks differently from the others.
    - Post-hoc: two-sided Wilcoxon signed-rank tests on the per-seed differences of every two
      pairs, Holm-corrected over the device's comparisons (`summarize_tests`, metric
      true_final). Benavoli et al. (2016) advise this over Nemenyi's test, whose verdict on
      two pairs depends on which other pairs happen to be compared and which has less power.
    - Told apart: Friedman p <= alpha and Holm-adjusted p <= alpha. When the Friedman test
      does not reject, no two pairs are told apart (one group).
    - Groups (the bars of a critical-difference diagram): maximal runs of pairs, in mean-rank
      order, no two of which are told apart (`reports.stats.indistinguishable_groups`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports import stats

Pair = tuple[str, str]
RANKED_METRIC = "true_final"


@dataclass(frozen=True)
class Ranking:
    """The Friedman ranking of one device's pairs.

    Attributes:
        device: The device.
        table: One row per pair sorted best first: strategy, pruner, mean_rank, score_median
            (median score over the seeds used), n_seeds.
        n_seeds: Seeds every pair ran (the blocks).
        statistic: Friedman's chi-square (NaN with fewer than two pairs or seeds).
        p: Its p-value.
        rejected: Friedman p <= alpha.
        groups: Groups that cannot be told apart, best first (two or more pairs each).
        tied_with_best: The pairs not told apart from the best-ranked one.
        live: No pair knows the table's optimum: scores are test accuracies.
    """

    device: str
    table: pd.DataFrame
    n_seeds: int
    statistic: float
    p: float
    rejected: bool
    groups: list[list[Pair]]
    tied_with_best: list[Pair]
    live: bool

    @property
    def best(self) -> Pair | None:
        """The best-ranked pair (None with no pairs)."""
        if self.table.empty:
            return None
        row = self.table.iloc[0]
        return str(row["strategy"]), str(row["pruner"])


def common_seeds(cells: pd.DataFrame) -> list[int]:
    """The seed numbers that every strategy x pruner pair of one device ran, sorted.

    Args:
        cells: `summarize_cells` output for one device.

    Returns:
        The shared seeds.
    """
    seeds = [set(g["seed"]) for _, g in cells.groupby(["strategy", "pruner"], observed=True)]
    return sorted(set.intersection(*seeds)) if seeds else []


def seed_matrix(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per-seed scores of one device: rows = common seeds, columns = (strategy, pruner).

    Args:
        cells: `summarize_cells` output for one device.
        metric: "true_final", "final_best" or "area" (higher is better); NaN scores 0.

    Returns:
        The matrix, columns sorted.
    """
    sub = cells[cells["seed"].isin(common_seeds(cells))]
    wide = sub.set_index(["seed", "strategy", "pruner"])[metric].astype("float64").unstack(
        ["strategy", "pruner"])
    return wide.sort_index(axis=0).sort_index(axis=1).fillna(0.0)


def _told_apart(tests: pd.DataFrame, device: str) -> set[frozenset[Pair]]:
    sig = tests[(tests["device"] == device) & (tests["metric"] == RANKED_METRIC)
                & tests["significant"]]
    return {frozenset(((str(r.a_strategy), str(r.a_pruner)), (str(r.b_strategy),
                                                              str(r.b_pruner))))
            for r in sig.itertuples()}


def rank_device(cells: pd.DataFrame, tests: pd.DataFrame, *, alpha: float) -> Ranking:
    """The ranking of one device's pairs (see the module docstring).

    Args:
        cells: `summarize_cells` output for one device.
        tests: `summarize_tests` output (any devices).
        alpha: Significance level of the Friedman test and the post-hoc tests.

    Returns:
        The ranking.
    """
    device = str(cells["device"].iloc[0])
    wide = seed_matrix(cells, RANKED_METRIC)
    result = stats.friedman(wide.to_numpy())
    pairs: list[Pair] = [(str(s), str(p)) for s, p in wide.columns]
    table = pd.DataFrame({
        "strategy": [s for s, _ in pairs], "pruner": [p for _, p in pairs],
        "mean_rank": result.mean_ranks,
        "score_median": wide.median().to_numpy(dtype=np.float64) if len(wide)
        else np.full(len(pairs), np.nan),
        "n_seeds": result.n_blocks})
    table = table.sort_values(["mean_rank", "strategy", "pruner"], kind="stable").reset_index(
        drop=True)
    order = list(zip(table["strategy"], table["pruner"], strict=True))
    rejected = bool(result.p <= alpha)
    apart = _told_apart(tests, device) if rejected else set()
    groups = stats.indistinguishable_groups(order, apart)
    best = order[0] if order else None
    tied = [q for q in order[1:] if frozenset((best, q)) not in apart]
    live = not bool(cells["regret_final"].notna().any())
    return Ranking(device=device, table=table, n_seeds=result.n_blocks,
                   statistic=result.statistic, p=result.p, rejected=rejected,
                   groups=groups, tied_with_best=tied, live=live)


def summarize_ranking(cells: pd.DataFrame, tests: pd.DataFrame, *,
                      alpha: float) -> list[Ranking]:
    """One `Ranking` per device, devices sorted.

    Args:
        cells: `summarize_cells` output.
        tests: `summarize_tests` output.
        alpha: Significance level.

    Returns:
        The rankings.
    """
    return [rank_device(dev, tests, alpha=alpha)
            for _, dev in cells.groupby("device", sort=True, observed=True)]


def ranking_table(rankings: list[Ranking]) -> pd.DataFrame:
    """Every ranking as one table: the pair rows plus the device's Friedman result and the
    1-based numbers of the groups each pair belongs to ("1;2")."""
    parts = []
    for r in rankings:
        member = {pair: [str(i + 1) for i, g in enumerate(r.groups) if pair in g]
                  for pair in zip(r.table["strategy"], r.table["pruner"], strict=True)}
        parts.append(r.table.assign(
            device=r.device, friedman_statistic=r.statistic, friedman_p=r.p,
            friedman_rejected=r.rejected,
            groups=[";".join(member[(s, p)]) for s, p in
                    zip(r.table["strategy"], r.table["pruner"], strict=True)]))
    cols = ["device", "strategy", "pruner", "mean_rank", "score_median", "n_seeds",
            "friedman_statistic", "friedman_p", "friedman_rejected", "groups"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
