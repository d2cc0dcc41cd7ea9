"""Replay throughput: trials per second per core, and harness time against Optuna's time.

Runs whole replay cells (in-memory study, then one append to a journal file) on the shipped
table in this process, one core, and prints per strategy: trials/s, and the split of the wall
time into Optuna's own time (every call into Optuna's ask, suggest, report, should_prune,
tell and the grid's is_exhausted, timed by wrapping those methods here) and everything else:
the harness (table lookup, bookkeeping, the durable write). The durable write (each cell's
check for a stored study and its one-append copy to the journal file) is also shown apart.

    python benchmarks/bench_replay.py [--trials 50] [--cells 20] [--table PATH]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import torch

from bench.execution import cell_runner, prelude
from bench.execution.cell_runner import run_cell
from bench.execution.task import CellTask
from bench.objectives.table import read_meta, shipped_table_path
from bench.results.export import build_tables
from bench.spec.cells import Cell
from bench.spec.objective import ObjectiveSpec
from bench.spec.suite import ObjectiveConfig, Strategy
from bench.storage.backends import open_storage

OPTUNA_S = [0.0]
DURABLE_S = [0.0]


def _timed(fn: Callable[..., Any], into: list[float] = OPTUNA_S) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into[0] += time.perf_counter() - t0

    return wrapper


def instrument_durable_write() -> None:
    """Accumulate the time of each cell's durable-storage work into DURABLE_S: the check for
    a stored study and the one-append copy of the finished in-memory study."""
    for module, name in ((prelude, "stored_study_attrs"), (prelude, "delete_stored_study"),
                         (cell_runner, "copy_finished_study")):
        setattr(module, name, _timed(getattr(module, name), DURABLE_S))


def instrument_optuna() -> None:
    """Accumulate the time spent inside Optuna's public per-trial calls into OPTUNA_S."""
    for cls, names in ((optuna.Study, ("ask", "tell")),
                       (optuna.Trial, ("suggest_float", "suggest_int", "suggest_categorical",
                                       "report", "should_prune"))):
        for name in names:
            setattr(cls, name, _timed(getattr(cls, name)))


def measure(strategy: str, pruner: str, trials: int, cells: int, table: str | None,
            epochs: int, reports_per_epoch: int) -> None:
    """Run `cells` replay cells and print the throughput figures."""
    grid = read_meta(Path(table) if table else shipped_table_path())["grid"]
    spec = ObjectiveSpec(dataset=grid["dataset"], epochs=epochs,
                         reports_per_epoch=reports_per_epoch)
    config = ObjectiveConfig("mnist-table", spec, table)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"journal:{Path(tmp) / 'journal.log'}"
        base = Cell("bench", config, Strategy(strategy), Strategy(pruner), 0, "cpu", trials)
        run_cell(CellTask(replace(base, seed=10_000), url))  # warm-up: imports, table load
        OPTUNA_S[0] = DURABLE_S[0] = 0.0
        start = time.perf_counter()
        for seed in range(cells):
            run_cell(CellTask(replace(base, seed=seed), url))
        wall = time.perf_counter() - start
        trials_df, _ = build_tables(open_storage(url))
    ran = trials_df[trials_df["seed"] < cells]
    n = len(ran)
    inside = OPTUNA_S[0]
    harness = wall - inside
    loop = harness - DURABLE_S[0]
    print(f"{strategy:>8} {pruner:>9}: {n / wall:8.0f} trials/s  "
          f"per trial: wall {1e3 * wall / n:.3f} ms, inside Optuna {1e3 * inside / n:.3f} ms, "
          f"harness {1e3 * harness / n:.3f} ms ({100 * harness / inside:.1f}% of Optuna's; "
          f"without the durable write {100 * loop / inside:.1f}%)")


def main() -> None:
    """Measure random, TPE and grid with and without pruning."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--table", default=None)
    parser.add_argument("--epochs", type=int, default=2, help="as the replay suite (2)")
    parser.add_argument("--reports-per-epoch", type=int, default=4,
                        help="as the replay suite (4)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    instrument_optuna()
    instrument_durable_write()
    print(f"{args.cells} cells x {args.trials} trials each of {args.epochs} epochs x "
          f"{args.reports_per_epoch} reports, one process, one core")
    for strategy, pruner in (("random", "none"), ("random", "median"), ("tpe", "none"),
                             ("tpe", "median"), ("grid", "none")):
        measure(strategy, pruner, args.trials, args.cells, args.table, args.epochs,
                args.reports_per_epoch)


if __name__ == "__main__":
    main()
