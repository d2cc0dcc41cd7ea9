"""False alarms and power of the regression gate, measured on the design CI runs.

The design (`samplerbench ci`): the CI suite's cells at its own seeds, run at sampler salt 0,
compared seed by seed with a baseline of the same cells at salt 0 (`reports.gate.compare`),
so a change is compared with what the old code did on the same sampler stream. The
alternative, a baseline averaged over K runs at other salts (`-k`, `--compare-k`), is
measured beside it. This script replays pools of the same cells under many salts
(`benchmarks/gate_pools.py`) and plays the gate on draws from them:

    - neutral: the current run is the unchanged algorithm at another salt (a neutral change:
      its sampler stream differs, cell seeds and replicate draws do not). The share of runs
      the gate flags is its false-alarm rate, with a Clopper-Pearson 95% interval.
    - baselines: the false-alarm rate of each of many alternative baselines (other salt sets),
      each against many neutral runs: how much one committed baseline sets the rate.
    - committed: the baseline CI ships (salt 0) against every other salt.
    - power: the current run's changed pairs come from a planted regression
      (`gate_pools.VARIANTS`, and 10% / 25% of TPE's seeds failing).
    - effects: every pool's mean metrics, and TPE's edge over random search on each metric,
      from which the tolerances are sized (`--tolerance-share` of the edge).

Within a draw, every seed takes its salts independently (cells of different seeds are
independent whatever their salts), so draws are fresh runs of the design; across draws the
pools are reused, so the draws are not fully independent and the intervals are somewhat too
narrow.

    python benchmarks/gate_power.py [--salts 20] [--variant-salts 10] [--runs 1000]
        [--baselines 100] [--per-baseline 60] [-k 1] [--compare-k 8] [--workers 2] [--pools FILE]
        [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `benchmarks.*` import by path (forked workers too)
    sys.path.insert(0, str(ROOT))

from bench.spec.suite import Suite, load_suite  # noqa: E402
from benchmarks.gate_pools import (  # noqa: E402
    NEUTRAL_VARIANTS,
    VARIANTS,
    build_pools,
    fail_seeds,
    load_or_build,
    pool_cells,
)
from reports.gate.compare import GateSettings, compare, regressed  # noqa: E402

KEYS = ["strategy", "pruner", "device", "seed"]
MEANS = ["true_final", "true_area", "final_best"]
PAIRED = ["true_final", "true_area", "final_best", "time_to_target_s", "trials_to_target"]
FAIL_SHARES = {"fail10": 0.10, "fail25": 0.25}


class Pools:
    """Pool rows indexed for fast draws: per pool, a (seed, salt) -> row lookup."""

    def __init__(self, frame: pd.DataFrame, suite: Suite) -> None:
        frame = frame.copy()
        frame["device"] = suite.devices[0]
        self.frame = frame
        self.seeds = np.array(sorted(suite.seeds))
        self.by_pool = {k: g.set_index(["salt", "strategy", "pruner", "seed"]).sort_index()
                        for k, g in frame.groupby("pool")}

    def salts(self, pool: str) -> np.ndarray:
        """The salts a pool was replayed at."""
        return np.sort(self.by_pool[pool].index.get_level_values("salt").unique())

    def run(self, pool: str, salt_of_seed: np.ndarray) -> pd.DataFrame:
        """One run's per-seed metrics: seed i taken at salt salt_of_seed[i]."""
        table = self.by_pool[pool].reset_index()
        pick = pd.DataFrame({"seed": self.seeds, "salt": salt_of_seed})
        return table.merge(pick, on=["seed", "salt"]).drop(columns=["salt", "pool"])

    def baseline(self, paired: np.ndarray, averaged: np.ndarray) -> pd.DataFrame:
        """A baseline of the unchanged pairs: per seed i the run at salt paired[i] (the first
        run) and the mean over the runs at salts averaged[i] (which include it)."""
        table = self.by_pool["base"].reset_index()
        first = table.merge(pd.DataFrame({"seed": self.seeds, "salt": paired}),
                            on=["seed", "salt"]).set_index(KEYS)
        k = averaged.shape[1]
        pick = pd.DataFrame({"seed": np.repeat(self.seeds, k), "salt": averaged.ravel()})
        rows = table.merge(pick, on=["seed", "salt"])
        rows["has_complete"] = rows["n_complete"] > 0
        out = rows.groupby(KEYS, sort=True).agg(
            mean_true_final=("true_final", "mean"), mean_true_area=("true_area", "mean"),
            n_failed=("n_failed", "max"), has_complete=("has_complete", "all"))
        return out.join(first[[*PAIRED, "first_params"]]).reset_index()


def _baseline_salts(rng: np.random.Generator, salts: np.ndarray, k: int,
                    first: np.ndarray) -> np.ndarray:
    """Per seed, k distinct salts starting with first[i] (the paired run)."""
    return np.stack([np.concatenate([[f], rng.choice(salts[salts != f], size=k - 1,
                                                     replace=False)]) for f in first])


def _current(pools: Pools, variant: str | None, run_salt: np.ndarray,
             rng: np.random.Generator) -> pd.DataFrame:
    current = pools.run("base", run_salt)
    if variant in FAIL_SHARES:
        return fail_seeds(current, FAIL_SHARES[variant], rng)
    if variant is not None:
        changed = pools.run(variant, run_salt)
        keep = ~current.set_index(["strategy", "pruner"]).index.isin(
            changed.set_index(["strategy", "pruner"]).index.unique())
        current = pd.concat([current[keep], changed], ignore_index=True)
    return current


def play(pools: Pools, variant: str | None, runs: int, k: int, settings: GateSettings,
         seed: int) -> dict[str, Any]:
    """Play the gate `runs` times, each on fresh draws of salts per seed.

    The baseline's first run takes salt p per seed and its mean takes p and k - 1 more.
    Neutral (variant None): the run is the unchanged algorithm at a salt outside those (its
    streams differ from the first trial on). A planted change (a regression, failing seeds,
    or a neutral change that keeps the first trials): the changed algorithm at salt p, as
    when CI runs changed code on the committed baseline's streams.
    """
    rng = np.random.default_rng([seed, k, runs, len(variant or "")])
    base_salts = pools.salts("base")
    replayed = variant is not None and variant not in FAIL_SHARES
    first_salts = pools.salts(variant) if replayed else base_salts
    n = len(pools.seeds)
    flagged = 0
    designs: dict[str, int] = {}
    t0 = time.perf_counter()
    for _ in range(runs):
        first = rng.choice(first_salts, size=n)
        salts = _baseline_salts(rng, base_salts, k, first)
        if variant is None:
            run_salt = np.array([rng.choice(np.setdiff1d(base_salts, row)) for row in salts])
        else:
            run_salt = first
        table = compare(pools.baseline(first, salts), _current(pools, variant, run_salt, rng),
                        settings)
        flagged += regressed(table)
        for d in table.loc[table["metric"].isin(["true_final"]), "design"]:
            designs[d] = designs.get(d, 0) + 1
    return {**_rate(variant or "neutral", k, runs, flagged, time.perf_counter() - t0),
            "designs": designs}


def _rate(name: str, k: int, runs: int, flagged: int, seconds: float) -> dict[str, Any]:
    ci = scipy_stats.binomtest(flagged, runs).proportion_ci(method="exact")
    return {"variant": name, "k": k, "runs": runs, "flagged": flagged, "rate": flagged / runs,
            "ci_low": ci.low, "ci_high": ci.high, "ms_per_gate": 1e3 * seconds / runs}


def baseline_spread(pools: Pools, baselines: int, per_baseline: int, k: int,
                    settings: GateSettings, seed: int) -> dict[str, Any]:
    """The false-alarm rate of each of `baselines` alternative baselines, each against
    `per_baseline` neutral runs whose streams differ from the first trial on."""
    rng = np.random.default_rng([seed, k, baselines, 7])
    salts = pools.salts("base")
    rates = []
    for _ in range(baselines):
        first = rng.choice(salts, size=len(pools.seeds))
        chosen = _baseline_salts(rng, salts, k, first)
        baseline = pools.baseline(first, chosen)
        flagged = 0
        for _ in range(per_baseline):
            run_salt = np.array([rng.choice(np.setdiff1d(salts, row)) for row in chosen])
            flagged += regressed(compare(baseline, pools.run("base", run_salt), settings))
        rates.append(flagged / per_baseline)
    r = np.array(rates)
    return {"k": k, "baselines": baselines, "per_baseline": per_baseline,
            "mean": float(r.mean()), "median": float(np.median(r)),
            "q90": float(np.quantile(r, 0.9)), "max": float(r.max()),
            "share_above_2alpha": float((r > 2 * settings.alpha).mean()),
            "share_zero": float((r == 0).mean())}


def committed(pools: Pools, k: int, settings: GateSettings, runs: int, seed: int
              ) -> dict[str, Any]:
    """The shipped design: the baseline's first run is salt 0, its mean over salts 0..k-1;
    CI's own run is salt 0 (unchanged code reproduces it). Its false-alarm rate is measured
    against runs at every other salt."""
    n = len(pools.seeds)
    first = np.zeros(n, dtype=int)
    baseline = pools.baseline(first, np.tile(np.arange(k), (n, 1)))
    ci_run = regressed(compare(baseline, pools.run("base", first), settings))
    others = np.setdiff1d(pools.salts("base"), np.arange(k))
    rng = np.random.default_rng([seed, 11])
    flagged = sum(regressed(compare(baseline, pools.run(
        "base", rng.choice(others, size=n)), settings)) for _ in range(runs))
    return {**_rate("committed", k, runs, flagged, 0.0), "salt0_flagged": bool(ci_run)}


def effects(pools: Pools) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Every pool's means, and TPE's edge over random per metric (pruners pooled)."""
    f = pools.frame
    rows = (f.groupby(["pool", "strategy", "pruner"])[MEANS].mean().reset_index()
            .to_dict("records"))
    base = f[f["pool"] == "base"].groupby("strategy")[MEANS].mean()
    edge = {m: float(base.loc["tpe", m] - base.loc["random", m]) for m in MEANS}
    return rows, edge


def main(argv: list[str] | None = None) -> None:
    """Build (or read) the pools, play every experiment, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="ci", help="suite file or shipped name (default: ci)")
    parser.add_argument("--salts", type=int, default=20, help="salts of the unchanged pool")
    parser.add_argument("--variant-salts", type=int, default=10,
                        help="salts of each planted regression's pool")
    parser.add_argument("--runs", type=int, default=1000, help="gates per experiment")
    parser.add_argument("--power-runs", type=int, default=300, help="gates per regression")
    parser.add_argument("--baselines", type=int, default=100)
    parser.add_argument("--per-baseline", type=int, default=60)
    parser.add_argument("-k", type=int, default=8,
                        help="runs in a baseline (default 8: the shipped design)")
    parser.add_argument("--compare-k", default="1", help="other K to measure, comma-separated")
    parser.add_argument("--alpha", type=float, default=GateSettings().alpha)
    parser.add_argument("--tolerance-share", type=float, default=None,
                        help="size tolerances as this share of TPE's edge over random "
                             "(default: the shipped tolerances)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pools", type=Path, default=None,
                        help="parquet cache of the replayed pools: read if it exists, else "
                             "written (the same suite and salts, by the user's word)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    parser.add_argument("--seed", type=int, default=0, help="seeds the draws (default: 0)")
    args = parser.parse_args(argv)
    suite = load_suite(args.suite)

    def build() -> pd.DataFrame:
        jobs = pool_cells(suite, None, range(args.salts))
        for name in [*VARIANTS, *NEUTRAL_VARIANTS]:
            jobs += pool_cells(suite, name, range(args.variant_salts))
        print(f"replaying {len(jobs)} cells ({len(jobs) * suite.trials} trials) with "
              f"{args.workers} worker(s)", flush=True)
        return build_pools(jobs, args.workers, 0.97,
                           lambda i, n: print(f"  chunk {i}/{n}", flush=True) if i % 20 == 0
                           else None)

    frame = load_or_build(args.pools, build)
    pools = Pools(frame, suite)
    print(f"pools: {len(frame)} cells; replayed in {frame.attrs.get('seconds', 0):.0f} s "
          "(0: read from the cache)")
    rows, edge = effects(pools)
    for r in rows:
        print(f"  {r['pool']:>12} {r['strategy']:>7} {r['pruner']:>7}: true final "
              f"{r['true_final']:.5f}, true area {r['true_area']:.5f}, final best "
              f"{r['final_best']:.5f}")
    print("TPE's edge over random: " + ", ".join(f"{m} {v:+.5f}" for m, v in edge.items()))
    settings = GateSettings(args.alpha)
    if args.tolerance_share is not None:
        settings = GateSettings(args.alpha, {m: max(args.tolerance_share * edge[m], 0.0)
                                             for m in ("true_final", "true_area")})
    print(f"alpha {settings.alpha}, tolerances {settings.tolerances}", flush=True)
    results: dict[str, Any] = {"suite": suite.name, "seeds": len(suite.seeds),
                               "salts": args.salts, "variant_salts": args.variant_salts,
                               "k": args.k, "alpha": settings.alpha,
                               "tolerances": settings.tolerances, "edge": edge,
                               "effects": rows}
    ks = [args.k, *(int(x) for x in args.compare_k.split(",") if x)]
    results["neutral"] = [play(pools, None, args.runs, k, settings, args.seed) for k in ks]
    for r in results["neutral"]:
        print(_line(r), flush=True)
    results["committed"] = committed(pools, args.k, settings, args.runs, args.seed)
    print(_line(results["committed"]) + f"; CI's own run (salt 0) flagged: "
          f"{results['committed']['salt0_flagged']}", flush=True)
    results["baselines"] = [baseline_spread(pools, args.baselines, args.per_baseline, k,
                                            settings, args.seed) for k in ks]
    for b in results["baselines"]:
        print(f"  K={b['k']}: false alarms over {b['baselines']} baselines x "
              f"{b['per_baseline']} runs: mean {100 * b['mean']:.1f}%, median "
              f"{100 * b['median']:.1f}%, 90th pct {100 * b['q90']:.1f}%, max "
              f"{100 * b['max']:.1f}%, above 2 alpha {100 * b['share_above_2alpha']:.0f}% "
              f"of baselines, zero {100 * b['share_zero']:.0f}%", flush=True)
    results["power"] = [play(pools, v, args.power_runs, k, settings, args.seed)
                        for k in ks for v in [*NEUTRAL_VARIANTS, *VARIANTS, *FAIL_SHARES]]
    for r in results["power"]:
        print(_line(r), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2, default=float) + "\n",
                            encoding="utf-8")


def _line(r: dict[str, Any]) -> str:
    return (f"{r['variant']:>12}  K={r['k']}  flagged {r['flagged']:>4}/{r['runs']} = "
            f"{100 * r['rate']:5.1f}%  95% CI [{100 * r['ci_low']:.1f}%, "
            f"{100 * r['ci_high']:.1f}%]  gate {r['ms_per_gate']:.1f} ms  "
            f"designs {r.get('designs', {})}")


if __name__ == "__main__":
    main()
