"""The CI gate's statistics: per-seed metrics of two runs -> a verdict table (pure).

Design: paired. A run and its baseline replay the same cell seeds (the same replicate draws),
so each strategy x pruner x device is compared seed by seed. Which baseline values a pair is
compared with depends on whether the change kept the sampler's streams:
    - `paired` (the run's first suggested parameters equal the baseline's first run's at
      `SHARED_STREAMS` of the seeds or more): with the first run's values, on the same
      streams, so start-up luck cancels out of every difference;
    - `averaged` (the streams differ from the first trial on, say a sampler that draws its
      random numbers differently): with the mean over every run of the baseline at that
      seed, so that the first run's own luck does not set the false-alarm rate.

Definitions:
    - Per seed (a cell of `reports.summaries.summarize_cells`): `true_final`, the noise-free
      quality of the configuration the study would hand a user (replay: the table's mean over
      replicates; live: its test accuracy), and `true_area`, the mean of that quality over
      trials 1..T (an anytime metric). A seed with no COMPLETE trial scores 0 on both.
      `final_best` (best observed validation accuracy, optimistic: a maximum over noisy
      draws), `n_failed`, `n_complete` and the target hits are kept for the record.
    - For every pair of the baseline and both metrics: d = baseline - current per seed;
      a one-sided paired permutation test of "the mean of d is positive" (sign flips,
      `reports.paired.sign_flip_greater`: exact up to 16 changed seeds, else 20,000 seeded
      flips); Holm's correction across every test of the comparison. A mean test, not a rank
      test, because realistic regressions move a minority of seeds by a lot (docs/ci.md).
    - `shortfall` = mean of d (accuracy points; positive = the current run is worse).
    - A row regresses when Holm-adjusted p <= alpha AND shortfall > the metric's tolerance.
      The tolerances (`DEFAULT_TOLERANCES`) are sized from measured effects: a tenth of TPE's
      edge over random search on the shipped table, where that edge is measured on the same
      metric (docs/ci.md, `benchmarks/gate_power.py`).
    - Hard checks flag a pair whatever the statistics say: a seed without a COMPLETE trial
      where every baseline run had one (`no_complete`), or more FAIL trials over the pair's
      seeds than the baseline's worst run had (`fail_trials`).
    - `reachable`: the smallest p the paired seeds can give, were every one worse
      (`min_sign_flip_p`), is at most alpha / number of tests, the strictest Holm threshold.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.results.schema import PARAM_PREFIX
from reports import stats
from reports.curves import CELL_KEYS, PAIR_KEYS, best_so_far
from reports.defaults import DEFAULT_TARGET
from reports.paired import min_sign_flip_p, sign_flip_greater
from reports.summaries import summarize_cells

METRICS: tuple[str, ...] = ("true_final", "true_area")
HARD_CHECKS: tuple[str, ...] = ("no_complete", "fail_trials")
RECORDED: tuple[str, ...] = ("final_best", "time_to_target_s", "trials_to_target")
SEED_COLUMNS: list[str] = [*PAIR_KEYS, "seed", *METRICS, *RECORDED, "n_failed", "n_complete",
                           "first_params"]
_DERIVED_PARAMS = ("param_learning_rate_snapped", "param_replicate")  # not the sampler's
SHARED_STREAMS = 0.5  # share of seeds whose first suggestion matches: the paired design
DEFAULT_ALPHA = 0.05
# At most a tenth of TPE's mean edge over random search on each metric: on the CI suite's seeds,
# over 20 sampler salts with both pruners, TPE led random by 0.00043 on true_final and 0.00044
# on true_area when they were set (the former table) and by 0.00064 and 0.00053 on the current
# one (docs/ci.md, benchmarks/gate_power.py).
DEFAULT_TOLERANCES: dict[str, float] = {"true_final": 0.00004, "true_area": 0.00004}
VERDICTS = ("REGRESSED", "worse, within tolerance", "worse, not significant", "ok")
TABLE_COLUMNS = ["strategy", "pruner", "device", "metric", "design", "n_seeds", "n_changed",
                 "baseline_mean", "current_mean", "shortfall", "tolerance", "p", "min_p",
                 "reachable", "p_holm", "regressed", "verdict"]


@dataclass(frozen=True)
class GateSettings:
    """How strict the gate is.

    Attributes:
        alpha: Family-wise significance level (Holm across every test).
        tolerances: Per metric, the mean shortfall (accuracy points) a change must exceed.
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
        Columns `SEED_COLUMNS`; the metrics are 0 for a seed without a COMPLETE trial.
    """
    cells = summarize_cells(best_so_far(trials), target=target)
    cells = cells.merge(first_params(trials), on=CELL_KEYS, how="left")
    out = cells[SEED_COLUMNS].copy()
    for col in (*METRICS, "final_best"):
        out[col] = out[col].fillna(0.0)
    for col in ("strategy", "pruner", "device"):
        out[col] = out[col].astype(str)
    for col in ("seed", "n_failed", "n_complete"):
        out[col] = out[col].astype("int64")
    return out.reset_index(drop=True)


def first_params(trials: pd.DataFrame) -> pd.DataFrame:
    """Per cell, a short hash of the parameters its sampler suggested first: equal hashes at a
    seed mean the two runs' sampler streams start alike (see `compare`)."""
    cols = sorted(c for c in trials.columns
                  if c.startswith(PARAM_PREFIX) and c not in _DERIVED_PARAMS)
    first = trials.sort_values([*CELL_KEYS, "trial"]).drop_duplicates(CELL_KEYS)
    blobs = first[cols].astype(object).where(first[cols].notna(), None).to_numpy().tolist()
    hashes = [hashlib.sha256(json.dumps(b, default=repr).encode()).hexdigest()[:12]
              for b in blobs]
    return first[CELL_KEYS].assign(first_params=hashes).reset_index(drop=True)


def design_of(both: pd.DataFrame) -> str:
    """`paired` when the run's first suggestions match the baseline's first run's at enough
    seeds (`SHARED_STREAMS`), else `averaged`."""
    if "first_params_b" not in both or both.empty:
        return "paired"
    shared = (both["first_params_b"] == both["first_params_c"]).mean()
    return "paired" if shared >= SHARED_STREAMS else "averaged"


def _test_row(key: tuple[str, ...], metric: str, both: pd.DataFrame, tolerance: float,
              design: str) -> dict[str, object]:
    column = metric if design == "paired" else f"mean_{metric}"
    b = both[column if column in both else f"{column}_b"].to_numpy(dtype=np.float64)
    c = both[f"{metric}_c"].to_numpy(dtype=np.float64)
    test = sign_flip_greater(b - c)
    return {"strategy": key[0], "pruner": key[1], "device": key[2], "metric": metric,
            "design": design,
            "n_seeds": len(both), "n_changed": test.n,
            "baseline_mean": float(b.mean()) if b.size else math.nan,
            "current_mean": float(c.mean()) if c.size else math.nan,
            "shortfall": float((b - c).mean()) if b.size else math.nan,
            "tolerance": tolerance, "p": test.p, "min_p": min_sign_flip_p(len(both))}


def _hard_rows(key: tuple[str, ...], both: pd.DataFrame) -> list[dict[str, object]]:
    lost = int(((both["n_complete"] == 0) & both["has_complete"].astype(bool)).sum())
    fails_b = int(both["n_failed_b"].sum())
    fails_c = int(both["n_failed_c"].sum())
    rows = []
    for metric, base, cur, bad in (
            ("no_complete", 0, lost, lost > 0),
            ("fail_trials", fails_b, fails_c, fails_c > fails_b)):
        rows.append({"strategy": key[0], "pruner": key[1], "device": key[2], "metric": metric,
                     "design": "hard check", "n_seeds": len(both),
                     "n_changed": cur if metric == "no_complete" else
                     int((both["n_failed_c"] != both["n_failed_b"]).sum()),
                     "baseline_mean": float(base), "current_mean": float(cur),
                     "shortfall": float(cur - base), "tolerance": 0.0, "p": math.nan,
                     "min_p": math.nan, "hard": bad})
    return rows


def compare(baseline: pd.DataFrame, current: pd.DataFrame,
            settings: GateSettings | None = None) -> pd.DataFrame:
    """Test every baseline pair for a regression in `current`, seed by seed.

    Args:
        baseline: Per-seed metrics of the baseline (`reports.gate.baseline.Baseline.seeds`:
            `SEED_COLUMNS` with `has_complete` instead of `n_complete`, means over its runs).
        current: Per-seed metrics of the run under test (`seed_metrics`); seeds are paired by
            number, so it must hold every baseline seed of every baseline pair (see
            `missing_seeds`); extra pairs and seeds are ignored.
        settings: Alpha and tolerances (default `GateSettings()`).

    Returns:
        One row per pair and metric, then its hard checks: `TABLE_COLUMNS`.
    """
    settings = settings or GateSettings()
    rows: list[dict[str, object]] = []
    cur_groups = dict(list(current.groupby(PAIR_KEYS, sort=True)))
    for key, base in baseline.groupby(PAIR_KEYS, sort=True):
        cur = cur_groups.get(key, current.iloc[0:0])
        both = base.merge(cur, on="seed", suffixes=("_b", "_c"))
        design = design_of(both)
        for metric in METRICS:
            rows.append({**_test_row(key, metric, both, settings.tolerance(metric), design),
                         "hard": False})
        rows += _hard_rows(key, both)
    out = pd.DataFrame(rows, columns=[*TABLE_COLUMNS[:13], "hard"])
    out["p_holm"] = stats.holm(out["p"].to_numpy(dtype=np.float64))
    n_tests = max(int(out["p"].notna().sum()), 1)
    tested = out["p"].notna()
    out["reachable"] = ~tested | (out["min_p"] <= settings.alpha / n_tests)
    significant = (out["p_holm"] <= settings.alpha).fillna(False).astype(bool)
    beyond = (tested & (out["shortfall"] > out["tolerance"])).fillna(False).astype(bool)
    hard = out["hard"].astype(bool)
    out["regressed"] = (significant & beyond) | hard
    out["verdict"] = np.select(
        [out["regressed"], significant & tested, beyond], list(VERDICTS[:3]),
        default=VERDICTS[3])
    return out[TABLE_COLUMNS]


def missing_pairs(baseline: pd.DataFrame, current: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Strategy x pruner x device pairs of the baseline that `current` lacks, sorted."""
    have = set(current[PAIR_KEYS].itertuples(index=False, name=None))
    want = set(baseline[PAIR_KEYS].itertuples(index=False, name=None))
    return sorted(want - have)


def missing_seeds(baseline: pd.DataFrame, current: pd.DataFrame) -> list[int]:
    """Seeds some baseline pair has that the same pair of `current` lacks, sorted."""
    have = set(current[[*PAIR_KEYS, "seed"]].itertuples(index=False, name=None))
    want = set(baseline[[*PAIR_KEYS, "seed"]].itertuples(index=False, name=None))
    return sorted({int(k[-1]) for k in want - have})


def regressed(table: pd.DataFrame) -> bool:
    """True when any row of a `compare` table regressed."""
    return bool(table["regressed"].any())
