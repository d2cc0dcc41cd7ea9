"""Replayed pools for calibrating the gate: per-seed metrics of the CI suite's cells at its own
seeds, under many sampler salts, for the unchanged strategies and for planted regressions.

A pool row is one cell: (pool, strategy, pruner, seed, salt) and its per-seed metrics
(`reports.gate.compare.SEED_COLUMNS`). Cells run in this process exactly as `samplerbench run`
runs them (in-memory Optuna storage, the same sampler seeds and replicate streams). Salt s > 0
is the suite's `sampler_salt = s`: the same algorithm with another sampler stream, replicate
draws unchanged. That is a neutral change; the CI run itself is salt 0.

Planted regressions (`VARIANTS`) change one strategy or pruner and keep every cell seed:
    - startup20, startup30: TPE's `n_startup_trials` 10 -> 20 and 10 -> 30;
    - stuck: TPE that never leaves its random start-up (`n_startup_trials` 1e6);
    - clipped: `benchmarks.planted:clipped_tpe`, learning rates clipped into [1e-5, 1e-4];
    - eager_median: the median pruner with `n_startup_trials` 5 -> 1 (it prunes against a
      single finished curve).
    - model_salted (neutral, not a regression): TPE whose random start-up keeps its stream
      while its model samples from a salted one (`benchmarks.planted:tpe_model_salted`).
Failing seeds need no replay: `fail_seeds` marks a share of a pool's seeds as having no
COMPLETE trial, which is what a sampler that crashes on those cells produces.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from bench.execution.prelude import open_stored_study, set_strategies
from bench.execution.task import CellTask
from bench.execution.trials import run_trial
from bench.objectives.base import build_objective
from bench.results.export import build_tables
from bench.spec.cells import Cell
from bench.spec.suite import Strategy, Suite
from reports.gate.compare import seed_metrics

Change = Callable[[Strategy, Strategy], tuple[Strategy, Strategy] | None]


def _tpe_options(**options: object) -> Change:
    def change(strategy: Strategy, pruner: Strategy) -> tuple[Strategy, Strategy] | None:
        if strategy.name != "tpe":
            return None
        merged = tuple(sorted({**strategy.options_dict(), **options}.items()))
        return Strategy(strategy.name, merged, strategy.key), pruner
    return change


def _clipped(strategy: Strategy, pruner: Strategy) -> tuple[Strategy, Strategy] | None:
    if strategy.name != "tpe":
        return None
    return Strategy("benchmarks.planted:clipped_tpe", strategy.options, strategy.key), pruner


def _model_salted(strategy: Strategy, pruner: Strategy) -> tuple[Strategy, Strategy] | None:
    if strategy.name != "tpe":
        return None
    return Strategy("benchmarks.planted:tpe_model_salted", strategy.options,
                    strategy.key), pruner


def _eager_median(strategy: Strategy, pruner: Strategy) -> tuple[Strategy, Strategy] | None:
    if pruner.name != "median":
        return None
    options = tuple(sorted({**pruner.options_dict(), "n_startup_trials": 1}.items()))
    return strategy, Strategy(pruner.name, options, pruner.key)


VARIANTS: dict[str, Change] = {
    "startup20": _tpe_options(n_startup_trials=20),
    "startup30": _tpe_options(n_startup_trials=30),
    "stuck": _tpe_options(n_startup_trials=1_000_000),
    "clipped": _clipped,
    "eager_median": _eager_median,
}
# Neutral changes that keep the first trials (not regressions: they calibrate false alarms).
NEUTRAL_VARIANTS: dict[str, Change] = {"model_salted": _model_salted}


def pool_cells(suite: Suite, variant: str | None, salts: range) -> list[tuple[str, Cell]]:
    """The cells of one pool: every pair (or, for a variant, the pairs it changes) at every
    seed of the suite and every salt."""
    jobs = []
    device = suite.devices[0]
    for strategy in suite.strategies:
        for pruner in suite.pruners:
            changed = (strategy, pruner) if variant is None else {
                **VARIANTS, **NEUTRAL_VARIANTS}[variant](strategy, pruner)
            if changed is None:
                continue
            cell = Cell(suite.name, suite.objective, changed[0], changed[1], 0, device,
                        suite.trials)
            jobs += [(variant or "base", replace(cell, seed=seed, sampler_salt=salt))
                     for salt in salts for seed in suite.seeds]
    return jobs


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


def _replay_chunk(jobs: list[tuple[str, Cell]], target: float) -> pd.DataFrame:
    parts = []
    for kind in dict.fromkeys(k for k, _ in jobs):
        for salt in sorted({c.sampler_salt for k, c in jobs if k == kind}):
            cells = [c for k, c in jobs if k == kind and c.sampler_salt == salt]
            parts.append(replay_cells(cells, target).assign(pool=kind, salt=salt))
    return pd.concat(parts, ignore_index=True)


def build_pools(jobs: list[tuple[str, Cell]], workers: int, target: float,
                progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Replay every job (chunked, over `workers` processes); one row per cell."""
    chunks = [jobs[i:i + 60] for i in range(0, len(jobs), 60)]
    parts = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for i, part in enumerate(pool.map(_replay_chunk, chunks, [target] * len(chunks))):
                parts.append(part)
                if progress:
                    progress(i + 1, len(chunks))
    else:
        for i, chunk in enumerate(chunks):
            parts.append(_replay_chunk(chunk, target))
            if progress:
                progress(i + 1, len(chunks))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def fail_seeds(frame: pd.DataFrame, share: float, rng: np.random.Generator,
               strategy: str = "tpe") -> pd.DataFrame:
    """`frame` with `share` of `strategy`'s seeds (drawn with `rng`, the same seeds for every
    pruner) turned into seeds whose every trial failed."""
    out = frame.copy()
    seeds = np.sort(out.loc[out["strategy"] == strategy, "seed"].unique())
    hit = rng.choice(seeds, size=round(share * len(seeds)), replace=False)
    rows = (out["strategy"] == strategy) & out["seed"].isin(hit)
    out.loc[rows, ["true_final", "true_area", "final_best"]] = 0.0
    out.loc[rows, "n_failed"] = out.loc[rows, "n_failed"] + out.loc[rows, "n_complete"]
    out.loc[rows, "n_complete"] = 0
    return out


def load_or_build(path: Path | None, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Read a cached pool table, or build and (when `path` is given) write it."""
    if path is not None and path.is_file():
        return pd.read_parquet(path)
    start = time.perf_counter()
    frame = build()
    frame.attrs["seconds"] = time.perf_counter() - start
    if path is not None:
        frame.to_parquet(path, index=False)
    return frame
