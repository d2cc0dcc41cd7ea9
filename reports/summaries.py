"""Pure summaries of a results table: `summarize_*(curves, ...) -> DataFrame`.

Every function takes the output of `reports.curves.best_so_far(trials)` (or a summary made
from it) and returns a new DataFrame; nothing here reads or writes files.

Definitions (per cell = strategy x pruner x device x seed, T = the cell's number of trials):
    - final best: best-so-far after the last trial (NaN if the cell has no COMPLETE trial;
      such cells are left out of medians and tests and counted in `n_no_complete`).
    - normalised area: mean of best-so-far over trials 1..T, undefined counted as 0, so in
      [0, 1].
    - chosen configuration: the COMPLETE trial with the highest value (ties: lowest trial
      number); `test_accuracy` is its test accuracy.
    - trials-to-target: 1-based position of the first COMPLETE trial with value >= target;
      time-to-target: cumulative `duration_s` up to and including it; epochs-to-target:
      cumulative `epochs_completed` likewise. Seeds that never reach the target are counted in
      `n_missed` and left out of the medians, never counted as 0.
    - Per pair (strategy x pruner x device), over seeds: median, quartiles and IQR of final
      best; its mean with a 95% percentile-bootstrap CI (`reports.stats.bootstrap_ci`, seed 0,
      2,000 resamples); medians of test accuracy, area, trials/time/epochs-to-target and epochs;
      share of all trials pruned (pooled); wall, objective and sampler seconds summed.
    - speed-up vs random: median time-to-target of `random` with the same pruner and device
      divided by this pair's; NaN when either never reaches the target or there is no random.
    - average rank: per device, seed number and trial k, pairs run with that seed are ranked
      by best-so-far (1 = best, ties share the mean rank, undefined ranks last); the ranks are
      averaged over the seed numbers that every pair of the device ran, for k up to the
      smallest T.
    - pairwise tests: see `summarize_tests`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports import stats
from reports.curves import (
    CELL_KEYS,
    PAIR_KEYS,
    axis_grid,
    best_so_far,
    resample_cells,
    seed_quantiles,
)

DEFAULT_TARGET = 0.97  # the validation accuracy that counts as reaching the target


def summarize_cells(curves: pd.DataFrame, *, target: float) -> pd.DataFrame:
    """One row per cell: final best, area, chosen configuration, target hits, costs.

    Args:
        curves: Output of `reports.curves.best_so_far`.
        target: Validation accuracy that counts as reaching the target, in [0, 1].

    Returns:
        Columns CELL_KEYS + n_trials, n_complete, n_pruned, n_failed, share_pruned,
        final_best, area, chosen_trial, test_accuracy, trials_to_target, time_to_target_s,
        epochs_to_target, reached, epochs, wall_s, objective_s, sampler_s.
    """
    flags = curves.assign(pruned=(curves["state"] == "PRUNED").astype("int64"),
                          failed=(curves["state"] == "FAIL").astype("int64"),
                          best0=curves["best"].fillna(0.0))
    out = flags.groupby(CELL_KEYS, sort=True, observed=True).agg(
        n_trials=("k", "size"),
        n_complete=("complete", "sum"),
        n_pruned=("pruned", "sum"),
        n_failed=("failed", "sum"),
        final_best=("best", "last"),  # best-so-far is carried forward, so last = final
        area=("best0", "mean"),
        epochs=("epochs_completed", "sum"),
        wall_s=("duration_s", "sum"),
        objective_s=("objective_s", "sum"),
        sampler_s=("sampler_s", "sum"),
    )
    out["share_pruned"] = out["n_pruned"] / out["n_trials"]
    done = curves[curves["complete"] & curves["value"].notna()]
    chosen = (done.sort_values([*CELL_KEYS, "value", "trial"],
                               ascending=[True] * 4 + [False, True], kind="stable")
              .drop_duplicates(CELL_KEYS).set_index(CELL_KEYS))
    out["chosen_trial"] = chosen["trial"].astype("Int64")
    out["test_accuracy"] = chosen["test_accuracy"].astype("float64")
    hits = done[done["value"] >= target].drop_duplicates(CELL_KEYS).set_index(CELL_KEYS)
    out["trials_to_target"] = hits["k"].astype("float64")
    out["time_to_target_s"] = hits["elapsed_s"]
    out["epochs_to_target"] = hits["epochs_used"]
    out["reached"] = out["trials_to_target"].notna()
    out["n_complete"] = out["n_complete"].astype("int64")
    return out.reset_index()


def _median(s: pd.Series) -> float:
    vals = s.dropna()
    return float(vals.median()) if len(vals) else float("nan")


def summarize_pairs(cells: pd.DataFrame, *, seed: int = stats.DEFAULT_SEED,
                    n_resamples: int = stats.DEFAULT_RESAMPLES) -> pd.DataFrame:
    """One row per strategy x pruner x device, over seeds (see the module docstring).

    Args:
        cells: Output of `summarize_cells`.
        seed: Seed of the bootstrap's random generator.
        n_resamples: Bootstrap resamples.

    Returns:
        The pair table, sorted by device, strategy, pruner.
    """
    rows = []
    for (strategy, pruner, device), c in cells.groupby(PAIR_KEYS, sort=True, observed=True):
        best = c["final_best"].dropna()
        low, high = stats.bootstrap_ci(best.to_numpy(), seed=seed, n_resamples=n_resamples)
        q25, q75 = (best.quantile([0.25, 0.75]).tolist() if len(best) else [np.nan] * 2)
        rows.append({
            "strategy": strategy, "pruner": pruner, "device": device,
            "n_seeds": len(c), "n_no_complete": int(c["final_best"].isna().sum()),
            "final_best_median": _median(best), "final_best_q25": q25, "final_best_q75": q75,
            "final_best_iqr": q75 - q25,
            "final_best_mean": float(best.mean()) if len(best) else np.nan,
            "final_best_ci_low": low, "final_best_ci_high": high,
            "test_accuracy_median": _median(c["test_accuracy"]),
            "area_median": _median(c["area"]),
            "n_reached": int(c["reached"].sum()), "n_missed": int((~c["reached"]).sum()),
            "trials_to_target_median": _median(c["trials_to_target"]),
            "time_to_target_median_s": _median(c["time_to_target_s"]),
            "epochs_to_target_median": _median(c["epochs_to_target"]),
            "share_pruned": float(c["n_pruned"].sum() / c["n_trials"].sum()),
            "epochs_median": _median(c["epochs"]),
            "wall_s_total": float(c["wall_s"].sum()),
            "objective_s_total": float(c["objective_s"].sum()),
            "sampler_s_total": float(c["sampler_s"].sum()),
        })
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    random = out[out["strategy"] == "random"].set_index(["pruner", "device"])
    ref = random["time_to_target_median_s"].reindex(
        pd.MultiIndex.from_frame(out[["pruner", "device"]])).to_numpy()
    out["speedup_vs_random"] = ref / out["time_to_target_median_s"].to_numpy()
    return out


def summarize_curves(curves: pd.DataFrame, x: str, *, n_points: int = 200) -> pd.DataFrame:
    """Median and quartiles of best-so-far over seeds, on a common grid per device.

    Args:
        curves: Output of `reports.curves.best_so_far`.
        x: "k" (trial number), "elapsed_s" (wall-clock seconds) or "epochs_used".
        n_points: Grid points for the continuous axes.

    Returns:
        Long table: strategy, pruner, device, x, median, q25, q75, n_seeds.
    """
    parts = []
    for device, dev in curves.groupby("device", sort=True, observed=True):
        grid = axis_grid(dev, x, n_points)
        for (strategy, pruner, _), mat in resample_cells(dev, x, grid).items():
            q25, med, q75 = seed_quantiles(mat, [0.25, 0.5, 0.75])
            parts.append(pd.DataFrame({
                "strategy": strategy, "pruner": pruner, "device": device, "x": grid,
                "median": med, "q25": q25, "q75": q75, "n_seeds": mat.shape[0]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["strategy", "pruner", "device", "x", "median", "q25", "q75", "n_seeds"])


def summarize_ranks(curves: pd.DataFrame) -> pd.DataFrame:
    """Average rank of each pair over trials (see the module docstring).

    Args:
        curves: Output of `reports.curves.best_so_far`.

    Returns:
        strategy, pruner, device, k, mean_rank, n_seeds, n_pairs.
    """
    parts = []
    for device, dev in curves.groupby("device", sort=True, observed=True):
        pairs = dev.groupby(["strategy", "pruner"], observed=True)
        common = set.intersection(*(set(s) for s in pairs["seed"].unique()))
        max_k = int(dev.groupby(CELL_KEYS, observed=True)["k"].max().min())
        sub = dev[dev["seed"].isin(common) & (dev["k"] <= max_k)].copy()
        sub["score"] = sub["best"].fillna(-np.inf)
        sub["rank"] = sub.groupby(["seed", "k"], observed=True)["score"].rank(
            ascending=False, method="average")
        agg = sub.groupby(["strategy", "pruner", "k"], observed=True).agg(
            mean_rank=("rank", "mean"), n_seeds=("seed", "nunique")).reset_index()
        agg["device"] = device
        agg["n_pairs"] = pairs.ngroups
        parts.append(agg)
    return pd.concat(parts, ignore_index=True)


def summarize_trial_times(curves: pd.DataFrame) -> pd.DataFrame:
    """Per-trial wall, objective and sampler seconds, one row per trial.

    Args:
        curves: Output of `reports.curves.best_so_far`.

    Returns:
        strategy, pruner, device, seed, state, duration_s, objective_s, sampler_s.
    """
    cols = [*CELL_KEYS, "state", "duration_s", "objective_s", "sampler_s"]
    return curves[cols].reset_index(drop=True)


def summarize_pruning(curves: pd.DataFrame) -> pd.DataFrame:
    """Where pruning stopped trials: pruned trials by epochs completed at the stop.

    Args:
        curves: Output of `reports.curves.best_so_far`.

    Returns:
        strategy, pruner, device, epochs_at_stop, n_pruned, share (of the pair's trials),
        n_seeds; pairs that pruned nothing are absent.
    """
    totals = curves.groupby(PAIR_KEYS, observed=True).agg(
        n_trials=("k", "size"), n_seeds=("seed", "nunique"))
    pruned = curves[curves["state"] == "PRUNED"]
    counts = (pruned.groupby([*PAIR_KEYS, "epochs_completed"], observed=True).size()
              .rename("n_pruned").reset_index()
              .rename(columns={"epochs_completed": "epochs_at_stop"}))
    out = counts.join(totals, on=PAIR_KEYS)
    out["share"] = out["n_pruned"] / out["n_trials"]
    return out.drop(columns="n_trials")


def summarize_tests(cells: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """One-sided Mann-Whitney tests "A > B" for every ordered pair on the same device.

    Both metrics (final best and area) over seeds; Holm correction over every test in the
    table; A12 effect size; `min_p` = smallest attainable p for the two seed counts and
    `reachable` = min_p <= alpha.

    Args:
        cells: Output of `summarize_cells`.
        alpha: Significance level.

    Returns:
        device, a_strategy, a_pruner, b_strategy, b_pruner, metric, n_a, n_b, u, p, method,
        a12, min_p, reachable, p_holm, significant.
    """
    rows = []
    for device, dev in cells.groupby("device", sort=True, observed=True):
        groups = dict(list(dev.groupby(["strategy", "pruner"], sort=True, observed=True)))
        for (ka, a), (kb, b) in itertools.permutations(groups.items(), 2):
            for metric in ("final_best", "area"):
                xa, xb = a[metric].dropna().to_numpy(), b[metric].dropna().to_numpy()
                test = stats.mann_whitney_greater(xa, xb)
                min_p = stats.min_attainable_p(len(xa), len(xb))
                rows.append({
                    "device": device, "a_strategy": ka[0], "a_pruner": ka[1],
                    "b_strategy": kb[0], "b_pruner": kb[1], "metric": metric,
                    "n_a": len(xa), "n_b": len(xb), "u": test.u, "p": test.p,
                    "method": test.method, "a12": stats.a12(xa, xb),
                    "min_p": min_p, "reachable": min_p <= alpha})
    out = pd.DataFrame(rows, columns=[
        "device", "a_strategy", "a_pruner", "b_strategy", "b_pruner", "metric", "n_a", "n_b",
        "u", "p", "method", "a12", "min_p", "reachable"])
    out["p_holm"] = stats.holm(out["p"].to_numpy(dtype=np.float64))
    out["significant"] = (out["p_holm"] <= alpha).fillna(False).astype(bool)
    return out


@dataclass(frozen=True)
class ReportSummaries:
    """Every summary a report shows, computed once from the trials table.

    Attributes:
        target: The accuracy target. alpha: The significance level.
        cells, pairs, tests, ranks, times, pruning: `summarize_*` outputs.
        curves: `summarize_curves` output by axis ("k", "elapsed_s", "epochs_used").
    """

    target: float
    alpha: float
    cells: pd.DataFrame
    pairs: pd.DataFrame
    tests: pd.DataFrame
    ranks: pd.DataFrame
    times: pd.DataFrame
    pruning: pd.DataFrame
    curves: dict[str, pd.DataFrame]


def summarize_report(trials: pd.DataFrame, *, target: float, alpha: float,
                     seed: int = stats.DEFAULT_SEED) -> ReportSummaries:
    """Compute every summary of the report from a trials table.

    Args:
        trials: The trials table (`bench.results.schema.TRIALS_COLUMNS`).
        target: Accuracy target in [0, 1].
        alpha: Significance level of the pairwise tests.
        seed: Seed of the bootstrap's random generator.

    Returns:
        The summaries.
    """
    curves = best_so_far(trials)
    cells = summarize_cells(curves, target=target)
    return ReportSummaries(
        target=target, alpha=alpha, cells=cells, pairs=summarize_pairs(cells, seed=seed),
        tests=summarize_tests(cells, alpha=alpha), ranks=summarize_ranks(curves),
        times=summarize_trial_times(curves), pruning=summarize_pruning(curves),
        curves={x: summarize_curves(curves, x) for x in ("k", "elapsed_s", "epochs_used")})
