"""Throughput of 2 workers against 1: the same digits suite on a dask LocalCluster of each size.

Each size runs the suite into a fresh journal file and prints the wall time of the executor
(cluster start included), the trials per second between the first and the last finished
trial (cluster start excluded), and the ratio of 2 workers to 1. On a machine with fewer
free cores than workers the ratio says so.

    python benchmarks/bench_workers.py [--seeds 4] [--trials 10] [--epochs 6] [--executor dask]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import optuna

from bench.execution.executors import make_executor
from bench.execution.task import CellEvent, CellTask
from bench.spec.cells import suite_cells
from bench.spec.suite import Suite, parse_suite
from bench.storage.urls import resolve_storage_url


def suite(seeds: int, trials: int, epochs: int) -> Suite:
    """A digits suite: random and TPE, `seeds` seeds, `trials` trials per cell."""
    return parse_suite({
        "name": "workers", "trials": trials, "seeds": seeds, "strategies": ["random", "tpe"],
        "objective": {"kind": "mnist", "dataset": "digits", "epochs": epochs,
                      "batch_size": 128},
    })


def measure(s: Suite, workers: int, executor: str) -> tuple[float, float, int]:
    """(executor wall seconds, trials/s between first and last trial, trials run)."""
    stamps: list[float] = []

    def on_event(event: CellEvent) -> None:
        if not event.finished:
            stamps.extend([time.perf_counter()] * event.new)

    with tempfile.TemporaryDirectory() as tmp:
        url = resolve_storage_url("journal", Path(tmp))
        tasks = [CellTask(c, url) for c in suite_cells(s)]
        start = time.perf_counter()
        results = make_executor(executor, workers).run(tasks, on_event)
        wall = time.perf_counter() - start
    errors = [r.error for r in results if r.error]
    if errors:
        raise SystemExit(f"a cell failed: {errors[0]}")
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return wall, steady, len(stamps)


def main() -> None:
    """Run 1 then 2 workers and print both and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--executor", default="dask", help="dask or processes")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s = suite(args.seeds, args.trials, args.epochs)
    print(f"{len(suite_cells(s))} cells x {args.trials} trials on digits, {args.epochs} epochs, "
          f"{args.executor} executor, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}")
    rows = {}
    for workers in (1, 2):
        wall, steady, n = measure(s, workers, args.executor)
        rows[workers] = (wall, steady)
        print(f"{workers} worker(s): {n} trials, wall {wall:6.1f}s ({n / wall:.2f} trials/s "
              f"with start-up), {steady:.2f} trials/s first to last trial")
    print(f"2 workers / 1 worker: {rows[1][0] / rows[2][0]:.2f}x by wall time, "
          f"{rows[2][1] / rows[1][1]:.2f}x by trials/s")


if __name__ == "__main__":
    main()
