"""Per-trial storage overhead of the journal file, SQLite and PostgreSQL.

Runs the harness's own trial loop (`bench.execution.trials.run_trial`: ask, two suggestions,
`reports` intermediate values with the pruner's check, one user attribute, tell) with an
objective that costs nothing, so the time per trial is the storage's plus Optuna's. The
same loop on Optuna's in-memory storage is the baseline; overhead = storage - in-memory.
PostgreSQL is a throwaway server with fsync on (tests/helpers/postgres.py), unless --postgres
URL.

    python benchmarks/bench_storage.py [--trials 200] [--reports 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import optuna

from bench.core.spaces import SEED_SPACE, ParamValue
from bench.execution.trials import run_trial
from bench.objectives.outcome import Outcome
from bench.storage.backends import open_storage

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `tests.helpers` imports from the checkout's root
    sys.path.insert(0, str(ROOT))


class FreeObjective:
    """Reports `reports` values and returns the last one; no computation at all."""

    space = SEED_SPACE
    time_simulated = False

    def __init__(self, reports: int) -> None:
        self.reports = reports

    def evaluate(self, trial: optuna.Trial, params: dict[str, ParamValue]) -> Outcome:
        """Report, ask the pruner, return."""
        value = 0.0
        for step in range(1, self.reports + 1):
            value = 0.5 + 0.1 * step / self.reports
            trial.report(value, step)
            trial.should_prune()
        epochs = tuple(float(step) for step in range(1, self.reports + 1))
        return Outcome(value, False, epochs, {"train_s": 0.0})

    def provenance(self) -> dict[str, Any]:
        """Nothing to record."""
        return {}


def per_trial_ms(storage: optuna.storages.BaseStorage | None, trials: int,
                 reports: int) -> float:
    """Median milliseconds per trial of the harness loop on `storage` (None: in memory)."""
    study = optuna.create_study(storage=storage, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=optuna.pruners.MedianPruner())
    objective = FreeObjective(reports)
    times = []
    for _ in range(trials):
        t0 = time.perf_counter()
        run_trial(study, objective)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _postgres_server() -> Any:
    from tests.helpers.postgres import PostgresServer

    return PostgresServer(durable=True).start()


def main() -> None:
    """Measure and print one line per storage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--reports", type=int, default=3)
    parser.add_argument("--postgres", default=None, help="an empty PostgreSQL database URL")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", "Heartbeat of storage is supposed", UserWarning)
    server = None if args.postgres else _postgres_server()
    try:
        pg_url = args.postgres or server.create_database()
        with tempfile.TemporaryDirectory() as tmp:
            urls = {"journal": f"journal:{tmp}/journal.log",
                    "sqlite": f"sqlite:///{tmp}/optuna.sqlite",
                    "postgresql": pg_url}
            base = per_trial_ms(None, args.trials, args.reports)
            print(f"{args.trials} trials, {args.reports} reports each, random sampler, median "
                  f"pruner; median ms per trial")
            print(f"{'in-memory':<11} {base:8.2f} ms/trial (baseline: Optuna + harness)")
            for name, url in urls.items():
                ms = per_trial_ms(open_storage(url, heartbeat=True), args.trials, args.reports)
                print(f"{name:<11} {ms:8.2f} ms/trial, storage overhead {ms - base:7.2f} ms")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
