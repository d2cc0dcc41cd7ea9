"""The CI gate's statistics: per-seed metrics of two runs -> a verdict table (pure).

Definitions:
    - Per seed (a cell of `reports.summaries.summarize_cells`): `final_best` (best validation
      accuracy after the last trial; a seed with no COMPLETE trial scores 0, the worst
      accuracy, so a run whose trials all fail or get pruned cannot slip through) and `area`
      (normalised area under best-so-far, in [0, 1]). `time_to_target_s` and
      `trials_to_target` are kept for the record but not tested.
    - For every strategy x pruner x device of the baseline and both metrics, a one-sided
      Mann-Whitney U test of "baseline tends to be larger than current" (the current run is
      worse), `reports.stats.mann_whitney_greater`; Holm's correction across every test of
      the comparison; `a12` = P(baseline > current) + 0.5 P(tie).
    - `shortfall` = mean over baseline seeds - mean over current seeds (accuracy points;
      positive = the current run is worse).
    - A row regresses when Holm-adjusted p <= alpha AND shortfall > the metric's tolerance,
      like asv's "statistically different and beyond a factor" rule. The defaults
      (`DEFAULT_ALPHA`, `DEFAULT_TOLERANCES`) are sized for the shipped CI suite: 0.0005 is
      5 validation images in 10,000, about half of what TPE stuck in its random start-up
      loses on the shipped table, so the tolerance filters only smaller shifts.
    - `reachable` = the smallest p the seed counts can give (`reports.stats.min_attainable_p`)
      is at most alpha / number of tests, the strictest Holm threshold; when it is False the
      gate cannot flag that row whatever happens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports import stats
from reports.curves import PAIR_KEYS, best_so_far
from reports.summaries import DEFAULT_TARGET, summarize_cells

METRICS: tuple[str, ...] = ("final_best", "area")
SEED_COLUMNS: list[str] = [*PAIR_KEYS, "seed", "final_best", "area", "time_to_target_s",
                           "trials_to_target"]
DEFAULT_ALPHA = 0.05
DEFAULT_TOLERANCES: dict[str, float] = {"final_best": 0.0005, "area": 0.0005}
VERDICTS = ("REGRESSED", "worse, within tolerance", "worse, not significant", "ok")


@dataclass(frozen=True)
class GateSettings:
    """How strict the gate is.

    Attributes:
        alpha: Family-wise significance level (Holm across every test).
        tolerances: Per metric, the shortfall (accuracy points) a change must exceed.
    """

    alpha: float = DEFAULT_ALPHA
    tolerances: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TOLERANCES))

    def tolerance(self, metric: str) -> float:
        """The tolerance of one metric."""
        return float(self.tolerances.get(metric, DEFAULT_TOLERANCES[metric]))


def seed_metrics(trials: pd.DataFrame, *, target: float = DEFAULT_TARGET) -> pd.DataFrame:
    """Per-seed metrics of a trials table: one row per strategy x pruner x device x seed.

    Args:
        trials: The trials table (`bench.results.schema.TRIALS_COLUMNS`).
        target: Accuracy that counts as reaching the target (for time-to-target).

    Returns:
        Columns `SEED_COLUMNS`; `final_best` is 0 for a seed without a COMPLETE trial.
    """
    cells = summarize_cells(best_so_far(trials), target=target)
    out = cells[SEED_COLUMNS].copy()
    out["final_best"] = out["final_best"].fillna(0.0)
    for col in ("strategy", "pruner", "device"):
        out[col] = out[col].astype(str)
    out["seed"] = out["seed"].astype("int64")
    return out.reset_index(drop=True)


def _values(frame: pd.DataFrame, metric: str) -> np.ndarray:
    return frame[metric].to_numpy(dtype=np.float64)


def compare(baseline: pd.DataFrame, current: pd.DataFrame,
            settings: GateSettings | None = None) -> pd.DataFrame:
    """Test every baseline pair and metric for a regression in `current`.

    Args:
        baseline: Per-seed metrics of the baseline (`seed_metrics` columns).
        current: Per-seed metrics of the run under test; every baseline pair must be present
            (see `missing_pairs`), extra pairs are ignored.
        settings: Alpha and tolerances (default `GateSettings()`).

    Returns:
        One row per pair and metric: strategy, pruner, device, metric, n_baseline,
        n_current, baseline_mean, current_mean, shortfall, tolerance, a12, p, min_p,
        reachable, p_holm, regressed, verdict.
    """
    settings = settings or GateSettings()
    rows = []
    cur_groups = dict(list(current.groupby(PAIR_KEYS, sort=True)))
    for key, base in baseline.groupby(PAIR_KEYS, sort=True):
        cur = cur_groups.get(key, current.iloc[0:0])
        for metric in METRICS:
            b, c = _values(base, metric), _values(cur, metric)
            b, c = b[~np.isnan(b)], c[~np.isnan(c)]
            test = stats.mann_whitney_greater(b, c)
            rows.append({
                "strategy": key[0], "pruner": key[1], "device": key[2], "metric": metric,
                "n_baseline": b.size, "n_current": c.size,
                "baseline_mean": float(b.mean()) if b.size else math.nan,
                "current_mean": float(c.mean()) if c.size else math.nan,
                "a12": stats.a12(b, c), "p": test.p,
                "min_p": stats.min_attainable_p(b.size, c.size),
                "tolerance": settings.tolerance(metric),
            })
    out = pd.DataFrame(rows, columns=[
        "strategy", "pruner", "device", "metric", "n_baseline", "n_current", "baseline_mean",
        "current_mean", "a12", "p", "min_p", "tolerance"])
    out["shortfall"] = out["baseline_mean"] - out["current_mean"]
    out["p_holm"] = stats.holm(out["p"].to_numpy(dtype=np.float64))
    n_tests = max(int(out["p"].notna().sum()), 1)
    out["reachable"] = out["min_p"] <= settings.alpha / n_tests
    significant = (out["p_holm"] <= settings.alpha).fillna(False).astype(bool)
    beyond = (out["shortfall"] > out["tolerance"]).fillna(False).astype(bool)
    out["regressed"] = significant & beyond
    out["verdict"] = np.select(
        [out["regressed"], significant, beyond], list(VERDICTS[:3]), default=VERDICTS[3])
    return out[["strategy", "pruner", "device", "metric", "n_baseline", "n_current",
                "baseline_mean", "current_mean", "shortfall", "tolerance", "a12", "p", "min_p",
                "reachable", "p_holm", "regressed", "verdict"]]


def missing_pairs(baseline: pd.DataFrame, current: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Strategy x pruner x device pairs of the baseline that `current` lacks, sorted."""
    have = set(current[PAIR_KEYS].itertuples(index=False, name=None))
    want = set(baseline[PAIR_KEYS].itertuples(index=False, name=None))
    return sorted(want - have)


def regressed(table: pd.DataFrame) -> bool:
    """True when any row of a `compare` table regressed."""
    return bool(table["regressed"].any())
