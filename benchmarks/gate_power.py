"""False alarms and power of the regression gate (`samplerbench check`), on a replay table.

Runs the CI suite's cells in this process (in-memory Optuna storage, no files), exactly as
`samplerbench run` would run them (same sampler seeds, same replicate streams), and then
plays the gate many times:

    - A/A: every strategy x pruner against itself with fresh seeds; the share of repetitions
      the gate flags anything is its false-alarm rate (Clopper-Pearson 95% interval).
    - planted: TPE replaced by `benchmarks.planted:clipped_tpe` (learning rate clipped into
      [1e-5, 1e-4]); the share flagged is the gate's power against that bug.
    - startup: TPE that never leaves its random start-up phase (n_startup_trials 1e6); power
      at several seed counts, and the smallest that reaches 80%.

Cells are reused across repetitions: each strategy x pruner (and each variant) is replayed
once for a pool of seeds, and every repetition draws disjoint seed sets for its baseline and
its current run from those pools. Within a repetition the two samples are independent draws
of the same per-seed distributions that fresh runs would give, so each repetition is
statistically a fresh A/A (or A/B) comparison; across repetitions the draws overlap, so the
repetitions are not independent and the Clopper-Pearson interval (which assumes they are) is
somewhat too narrow when the draws cover much of the pool. Variant pools use seeds offset by
OFFSET so that they share no replicate stream with the baseline pools.

    python benchmarks/gate_power.py [--table PATH] [--suite ci] [--pool 400]
        [--repetitions 200] [--seeds N] [--seed-grid 10,20,40] [--workers 2] [--out FILE]

`--table` replays another table (e.g. tests/fixtures/digits-table.parquet); the suite's
objective then takes the table's dataset, validation split and, where needed, its epochs and
reports per epoch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from scipy import stats as scipy_stats

from bench.execution.prelude import open_stored_study, set_strategies
from bench.execution.task import CellTask
from bench.execution.trials import run_trial
from bench.objectives.base import build_objective
from bench.objectives.table import load_curves, shipped_table_path
from bench.results.export import build_tables
from bench.spec.cells import Cell
from bench.spec.suite import Strategy, Suite, load_suite
from reports.gate.compare import GateSettings, compare, regressed, seed_metrics

ROOT = Path(__file__).resolve().parent.parent
OFFSET = 1_000_000  # seeds of variant pools start here
TARGET_SAMPLER = "tpe"  # the registry entry the planted regressions replace
Pair = tuple[str, str]  # (strategy label, pruner label)

VARIANTS: dict[str, Callable[[Strategy], Strategy]] = {
    "planted": lambda s: Strategy("benchmarks.planted:clipped_tpe", s.options, s.key),
    "startup": lambda s: Strategy(s.name, tuple(sorted(
        {**s.options_dict(), "n_startup_trials": 1_000_000}.items())), s.key),
}


def suite_for_table(suite: Suite, table: Path) -> Suite:
    """`suite` replaying `table`, its objective adapted to what the table covers."""
    curves = load_curves(table)
    grid = curves.meta["grid"]
    spec = suite.objective.spec
    rpe = spec.reports_per_epoch
    if curves.reports_per_epoch % rpe:
        rpe = curves.reports_per_epoch
    spec = replace(spec, dataset=grid["dataset"], validation=grid["validation"],
                   epochs=min(spec.epochs, curves.epochs), reports_per_epoch=rpe,
                   batch_size=int(curves.meta.get("batch_size", spec.batch_size)))
    objective = replace(suite.objective, spec=spec, table=str(table))
    return replace(suite, objective=objective)


def replay_cells(cells: list[Cell], target: float) -> pd.DataFrame:
    """Replay cells in an in-memory storage, as `samplerbench run` does; per-seed metrics."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.InMemoryStorage()
    for cell in cells:
        objective = build_objective(cell.objective, cell.device, cell.seed, None)
        study = open_stored_study(CellTask(cell, "memory"), objective, storage).study
        set_strategies(study, cell, objective, 0, cell.strategy.options_dict())
        for _ in range(cell.trials):
            run_trial(study, objective)
    trials, _ = build_tables(storage)
    return seed_metrics(trials, target=target)


@dataclass(frozen=True)
class Pools:
    """Per-seed metrics of every replayed pool, by (variant or "base", strategy, pruner)."""

    frames: dict[tuple[str, str, str], pd.DataFrame]
    pairs: list[Pair]
    targets: set[str]  # strategy labels the variants replace
    seconds: float

    def get(self, variant: str, pair: Pair) -> pd.DataFrame:
        """One pool."""
        return self.frames[(variant, *pair)]


def build_pools(suite: Suite, size: int, variants: list[str], workers: int,
                target: float) -> Pools:
    """Replay `size` seeds of every pair, and of every variant of the target pairs."""
    jobs: list[tuple[str, Cell]] = []
    targets = {s.key for s in suite.strategies if s.name == TARGET_SAMPLER}
    device = suite.devices[0]
    for strategy in suite.strategies:
        for pruner in suite.pruners:
            kinds = [("base", strategy, 0)]
            if strategy.key in targets:
                kinds += [(v, VARIANTS[v](strategy), OFFSET) for v in variants]
            for kind, strat, offset in kinds:
                jobs += [(kind, Cell(suite.name, suite.objective, strat, pruner, offset + s,
                                     device, suite.trials)) for s in range(size)]
    start = time.perf_counter()
    chunks = [jobs[i:i + 50] for i in range(0, len(jobs), 50)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_replay_chunk, chunks, [target] * len(chunks)))
    else:
        parts = [_replay_chunk(c, target) for c in chunks]
    frames: dict[tuple[str, str, str], pd.DataFrame] = {}
    for part in parts:
        for key, frame in part.items():
            frames[key] = pd.concat([frames[key], frame]) if key in frames else frame
    pairs = [(s.key, p.key) for s in suite.strategies for p in suite.pruners]
    return Pools({k: v.reset_index(drop=True) for k, v in frames.items()}, pairs, targets,
                 time.perf_counter() - start)


def _replay_chunk(jobs: list[tuple[str, Cell]], target: float
                  ) -> dict[tuple[str, str, str], pd.DataFrame]:
    out = {}
    for kind in dict.fromkeys(k for k, _ in jobs):
        seeds = replay_cells([c for k, c in jobs if k == kind], target)
        for (strategy, pruner), frame in seeds.groupby(["strategy", "pruner"]):
            out[(kind, str(strategy), str(pruner))] = frame
    return out


def save_pools(pools: Pools, path: Path) -> None:
    """Write the pools as one parquet table with a `pool` column."""
    frames = [f.assign(pool=kind) for (kind, _, _), f in pools.frames.items()]
    pd.concat(frames, ignore_index=True).to_parquet(path, index=False)


def load_pools(path: Path, suite: Suite) -> Pools:
    """Read pools written by `save_pools` for `suite`."""
    table = pd.read_parquet(path)
    frames = {(str(k), str(s), str(p)): f.drop(columns="pool").reset_index(drop=True)
              for (k, s, p), f in table.groupby(["pool", "strategy", "pruner"])}
    pairs = [(s.key, p.key) for s in suite.strategies for p in suite.pruners]
    targets = {s.key for s in suite.strategies if s.name == TARGET_SAMPLER}
    return Pools(frames, pairs, targets, 0.0)


def play(pools: Pools, variant: str | None, n: int, repetitions: int,
         settings: GateSettings, seed: int = 0) -> dict[str, Any]:
    """Run the gate `repetitions` times on disjoint draws of `n` seeds per side.

    Args:
        pools: The replayed pools.
        variant: None for A/A; else the current run's target pairs come from that variant.
        n: Seeds per side and pair.
        repetitions: How many gates to play.
        settings: The gate's alpha and tolerances.
        seed: Seeds the draws (with n and the repetition number).

    Returns:
        flagged (repetitions the gate exited 1), flagged_target (of those, flagged on a
        target pair), rate with its Clopper-Pearson 95% interval, and gate seconds per call.
    """
    flagged = flagged_target = 0
    gate_s = 0.0
    for rep in range(repetitions):
        rng = np.random.default_rng([seed, n, rep])
        base_parts, cur_parts = [], []
        for pair in pools.pairs:
            pool = pools.get("base", pair)
            if variant is not None and pair[0] in pools.targets:
                other = pools.get(variant, pair)
                base_parts.append(pool.iloc[rng.choice(len(pool), n, replace=False)])
                cur_parts.append(other.iloc[rng.choice(len(other), n, replace=False)])
            else:
                idx = rng.choice(len(pool), 2 * n, replace=False)
                base_parts.append(pool.iloc[idx[:n]])
                cur_parts.append(pool.iloc[idx[n:]])
        t0 = time.perf_counter()
        table = compare(pd.concat(base_parts), pd.concat(cur_parts), settings)
        gate_s += time.perf_counter() - t0
        if regressed(table):
            flagged += 1
            flagged_target += bool(table[table["regressed"]]["strategy"].isin(
                pools.targets).any())
    ci = scipy_stats.binomtest(flagged, repetitions).proportion_ci(method="exact")
    return {"variant": variant or "A/A", "seeds": n, "repetitions": repetitions,
            "flagged": flagged, "flagged_target": flagged_target,
            "rate": flagged / repetitions, "ci_low": ci.low, "ci_high": ci.high,
            "gate_ms": 1e3 * gate_s / repetitions}


def effect_sizes(pools: Pools, variants: list[str]) -> list[dict[str, Any]]:
    """Mean per-seed metrics of every pool, for the record."""
    rows = []
    for (kind, strategy, pruner), frame in sorted(pools.frames.items()):
        rows.append({"pool": kind, "strategy": strategy, "pruner": pruner, "n": len(frame),
                     "final_best_mean": float(frame["final_best"].mean()),
                     "area_mean": float(frame["area"].mean())})
    return rows


def _line(r: dict[str, Any]) -> str:
    return (f"{r['variant']:>8}  seeds {r['seeds']:>3}  flagged {r['flagged']:>3}/"
            f"{r['repetitions']} = {100 * r['rate']:5.1f}%  95% CI [{100 * r['ci_low']:.1f}%, "
            f"{100 * r['ci_high']:.1f}%]  (on tpe: {r['flagged_target']})  "
            f"gate {r['gate_ms']:.1f} ms/call")


def main(argv: list[str] | None = None) -> None:
    """Build the pools, play the experiments, print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=None,
                        help="table to replay (default: the suite's, i.e. the shipped one)")
    parser.add_argument("--suite", default="ci", help="suite file or shipped name (default: ci)")
    parser.add_argument("--pool", type=int, default=400, help="seeds replayed per pair")
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per side (default: the suite's seed count)")
    parser.add_argument("--seed-grid", default="10,20,30,40,60,80,100",
                        help="seed counts for the start-up-only power curve")
    parser.add_argument("--alpha", type=float, default=GateSettings().alpha)
    parser.add_argument("--tolerance-final-best", type=float,
                        default=GateSettings().tolerance("final_best"))
    parser.add_argument("--tolerance-area", type=float, default=GateSettings().tolerance("area"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    parser.add_argument("--pools", type=Path, default=None,
                        help="parquet cache of the replayed pools: read if it exists (the "
                             "same table, suite and --pool, by the user's word), else written")
    parser.add_argument("--draw-seed", type=int, default=0,
                        help="seeds the repetitions' draws from the pools (default: 0)")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:  # `benchmarks.planted` imports by path (forked workers too)
        sys.path.insert(0, str(ROOT))
    suite = load_suite(args.suite)
    table = args.table or (Path(suite.objective.table) if suite.objective.table
                           else shipped_table_path())
    suite = suite_for_table(suite, table)
    n = args.seeds or len(suite.seeds)
    grid = sorted({n, *(int(x) for x in args.seed_grid.split(",") if x)})
    grid = [g for g in grid if 2 * g <= args.pool]
    settings = GateSettings(args.alpha, {"final_best": args.tolerance_final_best,
                                         "area": args.tolerance_area})
    print(f"table {table} (checksum {load_curves(table).checksum}); suite {suite.name!r}: "
          f"{[s.key for s in suite.strategies]} x {[p.key for p in suite.pruners]}, "
          f"{suite.trials} trials, {suite.objective.spec.epochs} epochs x "
          f"{suite.objective.spec.reports_per_epoch} reports; pool {args.pool} seeds per pair; "
          f"alpha {settings.alpha}, tolerances {settings.tolerances}")
    variants = list(VARIANTS)
    if args.pools is not None and args.pools.is_file():
        pools = load_pools(args.pools, suite)
        print(f"pools read from {args.pools}")
    else:
        pools = build_pools(suite, args.pool, variants, args.workers, target=0.97)
        if args.pools is not None:
            save_pools(pools, args.pools)
    n_cells = sum(len(f) for f in pools.frames.values())
    print(f"replayed {n_cells} cells ({n_cells * suite.trials} trials) in "
          f"{pools.seconds:.0f} s with {args.workers} worker(s)")
    effects = effect_sizes(pools, variants)
    for e in effects:
        print(f"  {e['pool']:>8} {e['strategy']:>7} {e['pruner']:>7}: mean final best "
              f"{e['final_best_mean']:.4f}, mean area {e['area_mean']:.4f} ({e['n']} seeds)")
    seed = args.draw_seed
    results = [play(pools, None, n, args.repetitions, settings, seed),
               play(pools, "planted", n, args.repetitions, settings, seed)]
    results += [play(pools, "startup", g, args.repetitions, settings, seed) for g in grid]
    for r in results:
        print(_line(r))
    startup = [r for r in results if r["variant"] == "startup"]
    reach = next((r["seeds"] for r in startup if r["rate"] >= 0.8), None)
    at_n = next((r["rate"] for r in startup if r["seeds"] == n), float("nan"))
    print(f"start-up-only TPE: caught {100 * at_n:.1f}% at the default {n} seeds; 80% reached at "
          f"{reach if reach is not None else f'none of {grid}'} seeds")
    if args.out is not None:
        args.out.write_text(json.dumps({"table": str(table), "settings": {
            "alpha": settings.alpha, "tolerances": settings.tolerances}, "pool": args.pool,
            "effects": effects, "results": results, "seeds_for_80": reach}, indent=2) + "\n",
            encoding="utf-8")


if __name__ == "__main__":
    main()
