"""Fidelity of the replay objective: live and replayed runs of the same suite, compared.

    samplerbench run benchmarks/fidelity/live.toml -o LIVE --no-report
    samplerbench run benchmarks/fidelity/replay.toml -o REPLAY --no-report
    python benchmarks/fidelity/compare.py LIVE REPLAY

Random search draws the same parameters live and replayed (same seeds), so the runs differ
only by the replay's snapping of the learning rate to the table's grid and by training noise
(a recorded replicate instead of a fresh training run). Prints the per-seed final-best
medians and their difference, a two-sided Mann-Whitney U test and a paired Wilcoxon test
over seeds, and the per-trial difference (replayed minus live) by learning-rate region.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats


def final_best(trials: pd.DataFrame) -> pd.Series:
    """Best COMPLETE value per seed."""
    done = trials[trials["state"] == "COMPLETE"]
    return done.groupby("seed")["value"].max()


def main() -> None:
    """Compare and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("live", type=Path)
    parser.add_argument("replay", type=Path)
    args = parser.parse_args()
    live = pd.read_parquet(args.live / "trials.parquet")
    replay = pd.read_parquet(args.replay / "trials.parquet")
    a, b = final_best(live), final_best(replay)
    seeds = a.index.intersection(b.index)
    a, b = a[seeds], b[seeds]
    print(f"{len(seeds)} seeds x {live.groupby('seed').size().iloc[0]} trials, random search")
    print(f"final best, median: live {100 * a.median():.2f}%, replay {100 * b.median():.2f}%, "
          f"difference {100 * (b.median() - a.median()):+.2f} pp")
    mw = stats.mannwhitneyu(b, a, alternative="two-sided")
    wx = stats.wilcoxon(b.to_numpy(), a.to_numpy())
    print(f"Mann-Whitney U (two-sided) p = {mw.pvalue:.3f}; paired Wilcoxon over seeds "
          f"p = {wx.pvalue:.3f}")
    key = ["seed", "trial"]
    pairs = live[[*key, "param_learning_rate", "value"]].merge(
        replay[[*key, "param_learning_rate", "param_learning_rate_snapped", "value"]],
        on=key, suffixes=("_live", "_replay"))
    same = np.allclose(pairs["param_learning_rate_live"], pairs["param_learning_rate_replay"])
    print(f"same parameters suggested live and replayed: {same}")
    pairs["diff_pp"] = 100 * (pairs["value_replay"] - pairs["value_live"])
    pairs["snap_ratio"] = pairs["param_learning_rate_snapped"] / pairs["param_learning_rate_live"]
    bands = pd.cut(pairs["param_learning_rate_live"], [1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
    table = pairs.groupby(bands, observed=True)["diff_pp"].agg(["count", "mean", "median"])
    print("per-trial replayed minus live accuracy (pp), by learning rate:")
    print(table.to_string(float_format=lambda v: f"{v:+.2f}"))
    print(f"snapped/suggested learning rate: {pairs['snap_ratio'].min():.3f} to "
          f"{pairs['snap_ratio'].max():.3f}")


if __name__ == "__main__":
    main()
