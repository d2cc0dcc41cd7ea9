"""The A/B verdict of two runs of one suite at the same cell seeds (pure).

Design ("paired sign-flip with equivalence margin"): per strategy x pruner x device and per
metric of the gate (`true_final`, `true_area`; `reports.gate.compare`), d = A - B per seed
(positive: B is worse), the two sides having run the same cells with the same seeds.

    - worse: the one-sided sign-flip test that the mean of d is > 0
      (`reports.paired.sign_flip_greater`), Holm-adjusted across every such test of the
      comparison, p <= alpha, AND mean(d) > the metric's tolerance: the gate's rule, A
      playing the baseline;
    - better: the same, mirrored (the test of -d, its own Holm family), -mean(d) > tolerance;
    - equivalent: neither, and the (1 - alpha) interval of mean(d) (95% by default; seeded
      percentile bootstrap over seeds, `BOOTSTRAP` resamples) lies within +-margin (default:
      the metric's tolerance);
    - inconclusive: none of these; `detectable` then says what the seeds could have shown:
      the smallest mean shift a one-sided test at the strictest Holm level (alpha / tests)
      detects with 80% power given the observed per-seed sd (normal approximation), or
      infinity when no outcome of these seeds reaches that level (`min_sign_flip_p`).

A pair's verdict is "worse" when a metric or a hard check (a seed of B without a COMPLETE
trial where A had one, more FAIL trials in B than A) is worse, else "better" when a metric
is better, else "equivalent" when both metrics are, else "inconclusive".

The sampler's time per trial (trials' `sampler_s`) is compared as the ratio B / A of the
totals over the pair's trials, with a (1 - alpha) seeded bootstrap interval over seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from reports import stats
from reports.curves import PAIR_KEYS
from reports.gate.compare import DEFAULT_ALPHA, METRICS, GateSettings
from reports.paired import min_sign_flip_p, sign_flip_greater

BOOTSTRAP = 10_000
BOOTSTRAP_SEED = 0
POWER = 0.8
VERDICTS = ("worse", "better", "equivalent", "inconclusive")
METRIC_COLUMNS = ["strategy", "pruner", "device", "metric", "n_seeds", "n_changed", "a_mean",
                  "b_mean", "shortfall", "ci_low", "ci_high", "tolerance", "margin",
                  "p_worse", "p_worse_holm", "p_better", "p_better_holm", "min_p",
                  "detectable", "verdict", "detail"]
PAIR_COLUMNS = ["strategy", "pruner", "device", "verdict", "why"]
TIME_COLUMNS = ["strategy", "pruner", "device", "n_seeds", "a_ms_per_trial",
                "b_ms_per_trial", "ratio", "ratio_low", "ratio_high"]


@dataclass(frozen=True)
class ABSettings:
    """How the comparison decides.

    Attributes:
        gate: Alpha and per-metric tolerances, as the gate's.
        margin: Equivalence margin (accuracy points) for every metric; None: each metric's
            tolerance.
    """

    gate: GateSettings = field(default_factory=GateSettings)
    margin: float | None = None

    @property
    def alpha(self) -> float:
        """Family-wise level of each direction's tests; the intervals are at 1 - alpha."""
        return self.gate.alpha

    def margin_of(self, metric: str) -> float:
        """The equivalence margin of one metric."""
        return self.gate.tolerance(metric) if self.margin is None else float(self.margin)


def paired_seeds(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per-seed metrics of both sides (`reports.gate.compare.seed_metrics`) joined on pair
    and seed, columns suffixed `_a` and `_b`; only cells both sides hold."""
    return a.merge(b, on=[*PAIR_KEYS, "seed"], suffixes=("_a", "_b"), how="inner")


def mean_interval(d: npt.NDArray[np.float64], level: float, *,
                  n_resamples: int = BOOTSTRAP, seed: int = BOOTSTRAP_SEED
                  ) -> tuple[float, float]:
    """Seeded percentile-bootstrap interval of the mean of `d` at `level`
    (`stats.bootstrap_ci`, its stream drawn from `seed` and the number of seeds); exactly
    the value when every seed agrees."""
    if d.size and np.all(d == d[0]):
        return float(d[0]), float(d[0])
    return stats.bootstrap_ci(d, confidence=level, n_resamples=n_resamples, seed=[seed, d.size])


def detectable_shift(d: npt.NDArray[np.float64], alpha: float, power: float = POWER) -> float:
    """The smallest mean shift a one-sided level-`alpha` test of these seeds detects with
    `power` (normal approximation, observed sd); inf when the sign-flip test cannot reach
    `alpha` with this many seeds."""
    n = d.size
    if n < 2 or min_sign_flip_p(n) > alpha:
        return math.inf
    sd = float(np.std(d, ddof=1))
    return float((norm.ppf(1 - alpha) + norm.ppf(power)) * sd / math.sqrt(n))


def _metric_row(key: tuple[str, ...], metric: str, both: pd.DataFrame,
                settings: ABSettings) -> dict[str, object]:
    a = both[f"{metric}_a"].to_numpy(dtype=np.float64)
    b = both[f"{metric}_b"].to_numpy(dtype=np.float64)
    d = a - b
    worse, better = sign_flip_greater(d), sign_flip_greater(-d)
    low, high = mean_interval(d, 1 - settings.alpha)
    return {"strategy": key[0], "pruner": key[1], "device": key[2], "metric": metric,
            "n_seeds": d.size, "n_changed": worse.n,
            "a_mean": float(a.mean()) if a.size else math.nan,
            "b_mean": float(b.mean()) if b.size else math.nan,
            "shortfall": float(d.mean()) if d.size else math.nan,
            "ci_low": low, "ci_high": high, "tolerance": settings.gate.tolerance(metric),
            "margin": settings.margin_of(metric), "p_worse": worse.p, "p_better": better.p,
            "min_p": min_sign_flip_p(d.size), "_d": d}


def _decide(r: pd.Series, alpha: float, n_tests: int) -> tuple[str, str, float]:
    worse_sig = r.p_worse_holm <= alpha
    better_sig = r.p_better_holm <= alpha
    if worse_sig and r.shortfall > r.tolerance:
        return "worse", f"B worse by {r.shortfall:.5f} (Holm p {r.p_worse_holm:.2g})", math.nan
    if better_sig and -r.shortfall > r.tolerance:
        return ("better", f"B better by {-r.shortfall:.5f} (Holm p {r.p_better_holm:.2g})",
                math.nan)
    if r.ci_low >= -r.margin and r.ci_high <= r.margin:
        return ("equivalent", f"{100 * (1 - alpha):g}% interval [{r.ci_low:+.5f}, "
                f"{r.ci_high:+.5f}] within +-{r.margin:g}", math.nan)
    shift = detectable_shift(r["_d"], alpha / n_tests)
    if worse_sig or better_sig:
        why = f"B {'worse' if worse_sig else 'better'} but within the tolerance"
    else:
        why = "not significant either way"
    power = (f"seeds cannot reach alpha/{n_tests}" if math.isinf(shift) else
             f"80% power only for shifts >= {shift:.5f}")
    return "inconclusive", f"{why}; interval wider than +-{r.margin:g}; {power}", shift


def metric_verdicts(a: pd.DataFrame, b: pd.DataFrame,
                    settings: ABSettings | None = None) -> pd.DataFrame:
    """One row per pair and metric: the tests, interval, verdict (`METRIC_COLUMNS`).

    Args:
        a: Per-seed metrics of side A (`seed_metrics`).
        b: Per-seed metrics of side B, at the same pairs and seeds.
        settings: Alpha, tolerances and margin (default `ABSettings()`).
    """
    settings = settings or ABSettings()
    both = paired_seeds(a, b)
    rows = [_metric_row(key, metric, sub, settings)
            for key, sub in both.groupby(PAIR_KEYS, sort=True) for metric in METRICS]
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    out["p_worse_holm"] = stats.holm(out["p_worse"].to_numpy(dtype=np.float64))
    out["p_better_holm"] = stats.holm(out["p_better"].to_numpy(dtype=np.float64))
    decided = [_decide(r, settings.alpha, len(out)) for _, r in out.iterrows()]
    out["verdict"] = [v for v, _, _ in decided]
    out["detail"] = [w for _, w, _ in decided]
    out["detectable"] = [s for _, _, s in decided]
    return out[METRIC_COLUMNS].reset_index(drop=True)


def hard_checks(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per pair: seeds where B has no COMPLETE trial but A has (`lost`), and FAIL trials
    over the pair's seeds in A and in B."""
    both = paired_seeds(a, b)
    both["lost"] = (both["n_complete_b"] == 0) & (both["n_complete_a"] > 0)
    return both.groupby(PAIR_KEYS, sort=True).agg(
        lost=("lost", "sum"), fails_a=("n_failed_a", "sum"),
        fails_b=("n_failed_b", "sum")).reset_index()


def pair_verdicts(metrics: pd.DataFrame, hard: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: its verdict (see the module docstring) and why (`PAIR_COLUMNS`)."""
    rows = []
    hard_by = {tuple(r[:3]): r for r in hard.itertuples(index=False, name=None)}
    for key, sub in metrics.groupby(PAIR_KEYS, sort=True):
        verdicts = dict(zip(sub["metric"], sub["verdict"], strict=True))
        _, _, _, lost, fails_a, fails_b = hard_by.get(tuple(key), (*key, 0, 0, 0))
        reasons = [f"{m} {v}" for m, v in verdicts.items()]
        if lost:
            reasons.append(f"{lost} seeds of B without a COMPLETE trial")
        if fails_b > fails_a:
            reasons.append(f"FAIL trials {fails_a} -> {fails_b}")
        values = set(verdicts.values())
        if "worse" in values or lost or fails_b > fails_a:
            verdict = "worse"
        elif "better" in values:
            verdict = "better"
        elif values == {"equivalent"}:
            verdict = "equivalent"
        else:
            verdict = "inconclusive"
        rows.append({"strategy": key[0], "pruner": key[1], "device": key[2],
                     "verdict": verdict, "why": "; ".join(reasons)})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def any_worse(pairs: pd.DataFrame) -> bool:
    """True when some pair's verdict is "worse" (exit status 1)."""
    return bool((pairs["verdict"] == "worse").any())


def _cell_times(trials: pd.DataFrame) -> pd.DataFrame:
    keys = [*PAIR_KEYS, "seed"]
    t = trials.assign(sampler_s=trials["sampler_s"].fillna(0.0))
    return t.groupby(keys, sort=True, observed=True).agg(
        s=("sampler_s", "sum"), n=("sampler_s", "size")).reset_index()


def time_ratios(a_trials: pd.DataFrame, b_trials: pd.DataFrame,
                alpha: float = DEFAULT_ALPHA, *, n_resamples: int = BOOTSTRAP,
                seed: int = BOOTSTRAP_SEED) -> pd.DataFrame:
    """Per pair, the sampler's mean time per trial on each side (ms) and the ratio B / A of
    the totals, with a (1 - alpha) bootstrap interval over seeds (`TIME_COLUMNS`)."""
    both = _cell_times(a_trials).merge(_cell_times(b_trials), on=[*PAIR_KEYS, "seed"],
                                       suffixes=("_a", "_b"))
    rows = []
    for key, sub in both.groupby(PAIR_KEYS, sort=True):
        cols = [sub[c].to_numpy(dtype=np.float64) for c in ("s_a", "n_a", "s_b", "n_b")]
        sa, na, sb, nb = cols
        per_a, per_b = sa.sum() / na.sum(), sb.sum() / nb.sum()
        ratio = per_b / per_a if per_a > 0 else math.nan
        rng = np.random.default_rng([seed, len(sub)])
        idx = rng.integers(0, len(sub), size=(n_resamples, len(sub)))
        with np.errstate(divide="ignore", invalid="ignore"):
            boot = (sb[idx].sum(1) / nb[idx].sum(1)) / (sa[idx].sum(1) / na[idx].sum(1))
        boot = boot[np.isfinite(boot)]
        low, high = ((float(np.quantile(boot, alpha / 2)), float(np.quantile(boot, 1 - alpha / 2)))
                     if boot.size else (math.nan, math.nan))
        rows.append({"strategy": key[0], "pruner": key[1], "device": key[2],
                     "n_seeds": len(sub), "a_ms_per_trial": 1000 * per_a,
                     "b_ms_per_trial": 1000 * per_b, "ratio": ratio, "ratio_low": low,
                     "ratio_high": high})
    return pd.DataFrame(rows, columns=TIME_COLUMNS)
