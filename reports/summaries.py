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
    - true final: the noise-free quality (`true_accuracy`) of the chosen configuration, the
      headline metric; final best (the best observed validation accuracy) is kept but is
      optimistic: a maximum over noisy draws, it rewards trying many configurations near the
      top. true area: mean of chosen-so-far over trials 1..T, undefined counted as 0.
      final regret: `true_optimum` - true final (replay only).
    - trials-to-target: 1-based position of the first COMPLETE trial with value >= target;
      time-to-target: its `elapsed_s` (cumulative `duration_s` up to and including it, or
      the cell's clock at its end when trials overlapped); epochs-to-target:
      cumulative `epochs_completed` likewise (NaN in a cell that never reaches the target).
    - Per pair (strategy x pruner x device), over seeds: mean of true final with a 95%
      percentile-bootstrap CI (`reports.stats.bootstrap_ci`, seed 0, 2,000 resamples; it
      undercovers below 10 seeds, `SMALL_SAMPLE`), its median, median final regret; median,
      quartiles and IQR of final best and its mean and CI; medians of test accuracy, area, true
      area and epochs; share of all trials pruned (pooled); wall (each cell's clock at its last
      trial's end), objective and sampler seconds summed.
    - expected running time (ERT, COCO) to the target in trials, seconds and epochs: the cost
      of every seed (to the target, or its whole budget when it never got there) summed and
      divided by the number of seeds that reached it; infinite when none did. Seeds that miss
      count as failures in the cost, never as 0 and never left out.
    - speed-up vs random: ERT in seconds of `random` with the same pruner and device divided
      by this pair's (inf when only random never reached the target, 0 when only this pair
      never did); NaN when neither did or there is no random.
    - average rank: per device, seed number and trial k, pairs run with that seed are ranked
      by best-so-far (1 = best, ties share the mean rank, undefined ranks last); the ranks are
      averaged over the seed numbers that every pair of the device ran, for k up to the
      smallest T.
    - pairwise tests: see `summarize_tests`; Friedman ranking and groups: `reports.ranking`.
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
from reports.ranking import Ranking, seed_matrix, summarize_ranking

SMALL_SAMPLE = 10  # bootstrap intervals from fewer seeds undercover (73% at 3, 84% at 5)
PAIRED_METRICS: tuple[str, ...] = ("true_final", "final_best", "area")


def summarize_cells(curves: pd.DataFrame, *, target: float) -> pd.DataFrame:
    """One row per cell: final best, area, chosen configuration, target hits, costs.

    Args:
        curves: Output of `reports.curves.best_so_far`.
        target: Validation accuracy that counts as reaching the target, in [0, 1].

    Returns:
        Columns CELL_KEYS + n_trials, n_complete, n_pruned, n_failed, share_pruned,
        final_best, area, true_final, true_area, regret_final, chosen_trial, test_accuracy,
        trials_to_target, time_to_target_s,
        epochs_to_target, reached, epochs, wall_s, objective_s, sampler_s.
    """
    flags = curves.assign(pruned=(curves["state"] == "PRUNED").astype("int64"),
                          failed=(curves["state"] == "FAIL").astype("int64"),
                          best0=curves["best"].fillna(0.0),
                          chosen0=curves["chosen_true"].fillna(0.0))
    out = flags.groupby(CELL_KEYS, sort=True, observed=True).agg(
        n_trials=("k", "size"),
        n_complete=("complete", "sum"),
        n_pruned=("pruned", "sum"),
        n_failed=("failed", "sum"),
        final_best=("best", "last"),  # best-so-far is carried forward, so last = final
        area=("best0", "mean"),
        true_final=("chosen_true", "last"),
        true_area=("chosen0", "mean"),
        regret_final=("regret", "last"),
        epochs=("epochs_completed", "sum"),
        wall_s=("elapsed_s", "max"),  # the cell's clock at its last trial's end
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
        true = c["true_final"].dropna()
        low, high = stats.bootstrap_ci(best.to_numpy(), seed=seed, n_resamples=n_resamples)
        t_low, t_high = stats.bootstrap_ci(true.to_numpy(), seed=seed,
                                           n_resamples=n_resamples)
        q25, q75 = (best.quantile([0.25, 0.75]).tolist() if len(best) else [np.nan] * 2)
        hit = c["reached"].to_numpy(dtype=bool)
        rows.append({
            "strategy": strategy, "pruner": pruner, "device": device,
            "n_seeds": len(c), "n_no_complete": int(c["final_best"].isna().sum()),
            "true_final_mean": float(true.mean()) if len(true) else np.nan,
            "true_final_ci_low": t_low, "true_final_ci_high": t_high,
            "true_final_median": _median(true), "regret_final_median": _median(
                c["regret_final"]),
            "true_area_median": _median(c["true_area"]),
            "final_best_median": _median(best), "final_best_q25": q25, "final_best_q75": q75,
            "final_best_iqr": q75 - q25,
            "final_best_mean": float(best.mean()) if len(best) else np.nan,
            "final_best_ci_low": low, "final_best_ci_high": high,
            "test_accuracy_median": _median(c["test_accuracy"]),
            "area_median": _median(c["area"]),
            "n_reached": int(hit.sum()), "n_missed": int((~hit).sum()),
            "ert_trials": stats.expected_running_time(c["trials_to_target"], c["n_trials"], hit),
            "ert_s": stats.expected_running_time(c["time_to_target_s"], c["wall_s"], hit),
            "ert_epochs": stats.expected_running_time(c["epochs_to_target"], c["epochs"], hit),
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
    ref = random["ert_s"].reindex(
        pd.MultiIndex.from_frame(out[["pruner", "device"]])).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["speedup_vs_random"] = ref / out["ert_s"].to_numpy()
    return out


LOWER_IS_BETTER = frozenset({"regret", "error"})


def summarize_curves(curves: pd.DataFrame, x: str, *, y: str = "best",
                     n_points: int = 200) -> pd.DataFrame:
    """Median and quartiles of a running quantity over seeds, on a common grid per device.

    Args:
        curves: Output of `reports.curves.best_so_far` (plus `error` for y="error").
        x: "k" (trial number), "elapsed_s" (wall-clock seconds) or "epochs_used".
        y: "best" (best-so-far), "chosen_true", "regret" or "error" (1 - chosen_true). For
            regret and error (lower is better) an undefined value ranks as the worst, i.e.
            highest, so quantiles stay undefined until enough seeds have a choice.
        n_points: Grid points for the continuous axes.

    Returns:
        Long table: strategy, pruner, device, x, median, q25, q75, n_seeds.
    """
    sign = -1.0 if y in LOWER_IS_BETTER else 1.0
    parts = []
    for device, dev in curves.groupby("device", sort=True, observed=True):
        grid = axis_grid(dev, x, n_points)
        for (strategy, pruner, _), mat in resample_cells(dev, x, grid, y).items():
            q25, med, q75 = sign * seed_quantiles(sign * mat, [0.25, 0.5, 0.75])
            if sign < 0:
                q25, q75 = q75, q25
            parts.append(pd.DataFrame({
                "strategy": strategy, "pruner": pruner, "device": device, "x": grid,
                "median": med, "q25": q25, "q75": q75, "n_seeds": mat.shape[0]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["strategy", "pruner", "device", "x", "median", "q25", "q75", "n_seeds"])


def loss_metric(curves: pd.DataFrame) -> str:
    """"regret" when every trial knows the table's optimum (replay), else "error" (live).

    Args:
        curves: Output of `reports.curves.best_so_far`.

    Returns:
        The column the best-so-far figures plot.
    """
    known = "true_optimum" in curves and bool(curves["true_optimum"].notna().all())
    return "regret" if known and len(curves) else "error"


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


TEST_COLUMNS = ["device", "a_strategy", "a_pruner", "b_strategy", "b_pruner", "metric",
                "n_seeds", "n_nonzero", "w_plus", "p", "method", "a_better", "median_diff",
                "min_p", "reachable"]


def summarize_tests(cells: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Two-sided paired Wilcoxon signed-rank tests for every two pairs on the same device.

    The design is paired: every pair ran the same seeds, so each test takes the per-seed
    differences over the seeds every pair of the device ran (`common_seeds`; a cell with no
    COMPLETE trial scores 0). Metrics: true final (the headline), final best and area. Each
    row is oriented so that A is the pair with the larger signed-rank sum (A tends to be
    better). `a_better` = share of seeds where A beat B (ties count half); `median_diff` =
    median of A - B. Holm's correction runs over the tests of one device and metric (the
    post-hoc family of that device's Friedman test); `min_p` = the smallest attainable p for
    the seed count and `reachable` = min_p <= alpha.

    Args:
        cells: Output of `summarize_cells`.
        alpha: Significance level.

    Returns:
        TEST_COLUMNS + p_holm, significant.
    """
    rows = []
    for device, dev in cells.groupby("device", sort=True, observed=True):
        for metric in PAIRED_METRICS:
            wide = seed_matrix(dev, metric)
            for ka, kb in itertools.combinations(wide.columns, 2):
                xa, xb = wide[ka].to_numpy(), wide[kb].to_numpy()
                test = stats.wilcoxon_paired(xa, xb)
                if test.n_nonzero and test.w_plus < test.n_nonzero * (test.n_nonzero + 1) / 4:
                    ka, kb, xa, xb = kb, ka, xb, xa
                    test = stats.wilcoxon_paired(xa, xb)
                diff = xa - xb
                rows.append({
                    "device": device, "a_strategy": ka[0], "a_pruner": ka[1],
                    "b_strategy": kb[0], "b_pruner": kb[1], "metric": metric,
                    "n_seeds": len(diff), "n_nonzero": test.n_nonzero, "w_plus": test.w_plus,
                    "p": test.p, "method": test.method,
                    "a_better": float(np.mean((diff > 0) + 0.5 * (diff == 0))) if len(diff)
                    else np.nan,
                    "median_diff": float(np.median(diff)) if len(diff) else np.nan,
                    "min_p": stats.min_attainable_p_paired(len(diff)),
                    "reachable": stats.min_attainable_p_paired(len(diff)) <= alpha})
    out = pd.DataFrame(rows, columns=TEST_COLUMNS)
    out["p_holm"] = np.nan
    for _, idx in out.groupby(["device", "metric"], observed=True).groups.items():
        out.loc[idx, "p_holm"] = stats.holm(out.loc[idx, "p"].to_numpy(dtype=np.float64))
    out["significant"] = (out["p_holm"] <= alpha).fillna(False).astype(bool)
    return out


@dataclass(frozen=True)
class ReportSummaries:
    """Every summary a report shows, computed once from the trials table.

    Attributes:
        target: The accuracy target. alpha: The significance level.
        cells, pairs, tests, ranks, times, pruning: `summarize_*` outputs.
        rankings: The Friedman ranking of each device on true final (`reports.ranking`).
        loss: What the curves show: "regret" (replay) or "error" (live: 1 - test accuracy
            of the chosen configuration).
        curves: `summarize_curves` of `loss` by axis ("k", "elapsed_s", "epochs_used").
        any_complete: Whether any trial of the suite completed.
    """

    target: float
    alpha: float
    cells: pd.DataFrame
    pairs: pd.DataFrame
    tests: pd.DataFrame
    ranks: pd.DataFrame
    times: pd.DataFrame
    pruning: pd.DataFrame
    rankings: list[Ranking]
    loss: str
    curves: dict[str, pd.DataFrame]
    any_complete: bool


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
    curves["error"] = 1.0 - curves["chosen_true"]
    cells = summarize_cells(curves, target=target)
    tests = summarize_tests(cells, alpha=alpha)
    loss = loss_metric(curves)
    return ReportSummaries(
        target=target, alpha=alpha, cells=cells, pairs=summarize_pairs(cells, seed=seed),
        tests=tests, ranks=summarize_ranks(curves), times=summarize_trial_times(curves),
        pruning=summarize_pruning(curves),
        rankings=summarize_ranking(cells, tests, alpha=alpha), loss=loss,
        curves={x: summarize_curves(curves, x, y=loss)
                for x in ("k", "elapsed_s", "epochs_used")},
        any_complete=bool(curves["complete"].any()))
