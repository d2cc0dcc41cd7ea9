"""Replay throughput: trials per second per core, and harness time against Optuna's time.

Runs whole replay cells (in-memory study, then one append to a journal file) on the shipped
table in this process, one core, and prints per strategy: trials/s, and the split of the wall
time into Optuna's own time (every call into Optuna's ask, suggest, report, should_prune,
tell and the grid's is_exhausted, timed by wrapping those methods here) and everything else:
the harness (table lookup, bookkeeping, the durable write). The durable write (each cell's
check for a stored study and its one-append copy to the journal file) is also shown apart.

With `--workers`, each strategy runs once per entry: `serial` forces the serial trial loop
(live cells' loop, which replay ran before it had simulated workers), a number K runs the
replay loop of K simulated workers (`bench.execution.simulated`), and the line ends with the
trials per second and the harness's time per trial (everything but Optuna's calls) as
ratios to the first entry's, measured in this one run. `--repeat N` runs the entries
round-robin N times and prints, per entry, the run of median trials per second (the machine
is shared: single runs drift by 30%).

    python benchmarks/bench_replay.py [--trials 50] [--cells 20] [--table PATH]
                                      [--workers serial,1,64] [--repeat 3]
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
from bench.execution.loops import serial_trials
from bench.execution.simulated import simulated_trials
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


def force_simulated(on: bool) -> None:
    """Run replay cells on the simulated-workers loop (on) or the serial loop (off)."""
    loop = simulated_trials if on else serial_trials
    cell_runner.CELL_KINDS["replay"] = replace(cell_runner.CELL_KINDS["replay"], loop=loop)


def measure(strategy: str, pruner: str, trials: int, cells: int, table: str | None,
            epochs: int, reports_per_epoch: int, workers: int = 1) -> tuple[float, float, str]:
    """Run `cells` replay cells; return (trials per second, harness seconds per trial, the
    line of throughput figures)."""
    grid = read_meta(Path(table) if table else shipped_table_path())["grid"]
    spec = ObjectiveSpec(dataset=grid["dataset"], epochs=epochs,
                         reports_per_epoch=reports_per_epoch)
    config = ObjectiveConfig("mnist-table", spec, table)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"journal:{Path(tmp) / 'journal.log'}"
        base = Cell("bench", config, Strategy(strategy), Strategy(pruner), 0, "cpu", trials,
                    workers)
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
    line = (f"{strategy:>8} {pruner:>9}: {n / wall:8.0f} trials/s  "
            f"per trial: wall {1e3 * wall / n:.3f} ms, inside Optuna {1e3 * inside / n:.3f} "
            f"ms, harness {1e3 * harness / n:.3f} ms ({100 * harness / inside:.1f}% of "
            f"Optuna's; without the durable write {100 * loop / inside:.1f}%)")
    return n / wall, harness / n, line


def main() -> None:
    """Measure random, TPE and grid with and without pruning."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--table", default=None)
    parser.add_argument("--epochs", type=int, default=2, help="as the replay suite (2)")
    parser.add_argument("--reports-per-epoch", type=int, default=4,
                        help="as the replay suite (4)")
    parser.add_argument("--workers", default="serial",
                        help="comma-separated: serial, or K simulated workers (default serial)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per entry, round-robin; the median is printed")
    args = parser.parse_args()
    entries = args.workers.split(",")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    instrument_optuna()
    instrument_durable_write()
    print(f"{args.cells} cells x {args.trials} trials each of {args.epochs} epochs x "
          f"{args.reports_per_epoch} reports, one process, one core")
    for strategy, pruner in (("random", "none"), ("random", "median"), ("tpe", "none"),
                             ("tpe", "median"), ("grid", "none")):
        runs: dict[str, list[tuple[float, float, str]]] = {e: [] for e in entries}
        for _ in range(args.repeat):
            for entry in entries:
                force_simulated(entry != "serial")
                k = 1 if entry == "serial" else int(entry)
                runs[entry].append(measure(strategy, pruner, args.trials, args.cells,
                                           args.table, args.epochs, args.reports_per_epoch, k))
        medians = {e: sorted(r)[len(r) // 2] for e, r in runs.items()}  # by trials per second
        rate0, harness0, _ = medians[entries[0]]
        for entry, (rate, harness, line) in medians.items():
            print(f"{entry:>6} {line}" + (f"; vs {entries[0]}: trials/s x{rate / rate0:.2f}, "
                                         f"harness per trial x{harness / harness0:.2f}"
                                         if len(entries) > 1 else ""))


if __name__ == "__main__":
    main()
