"""Where the default job's time goes: `samplerbench run` on a fresh folder, whole process.

Two measurements, in one sitting:
1. Wall and CPU seconds of the whole process (`samplerbench run -o TMP`: the default
   suite, report included), the median of `--runs` runs, each into a fresh folder.
2. A CPU profile (cProfile) of the same job run in this process with `--executor serial`
   (every cell in one process, so the profile sees all of the work), summarised by phase
   (cells, the tables, the report: its figures render on forked processes, which the
   profile does not see, so it shows their time as the parent's wait on a lock) and by where
   the time goes, then the top entries by own time.

    python benchmarks/profile_default.py [--runs 3] [--top 25] [--no-profile]
                                         [--root CHECKOUT ...]

`--root` measures the whole process of other checkouts too (a `git worktree` of an earlier
commit, say), round-robin with this one, so before and after come from one sitting.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from bench.cli.main import main; sys.exit(main())"]

# Phases: a function whose cumulative time is the phase's, by (file suffix, function name).
# A fresh replay run builds its tables from its cells' rows (`rows`, inside the cells, and
# `tables`); a run that read them back from the storage shows under `storage read`.
PHASES = {
    "cells": ("bench/execution/cell_runner.py", "run_cell"),
    "  rows": ("bench/results/rows.py", "study_table_rows"),
    "tables": ("bench/results/export.py", "tables_from_rows"),
    "storage read": ("bench/results/export.py", "build_tables"),
    "report": ("reports/writer.py", "write_report"),
}
# Inside the cells: own time summed by where the code lives.
PLACES = {
    "Optuna samplers": "optuna/samplers",
    "Optuna storage, study, trial": "optuna/",
    "numpy": "numpy/",
    "samplerbench storage (journal)": "bench/storage",
    "samplerbench objective (replay lookups)": "bench/objectives",
    "samplerbench execution": "bench/execution",
}


def whole_process(runs: int, roots: list[Path]) -> None:
    """Print wall and CPU seconds of `samplerbench run` as a fresh process, `runs` times
    per checkout, round-robin."""
    walls: dict[Path, list[float]] = {r: [] for r in roots}
    cpus: dict[Path, list[float]] = {r: [] for r in roots}
    print(f"load average {os.getloadavg()[0]:.2f} at the start")
    for i in range(runs):
        for root in roots:
            with tempfile.TemporaryDirectory() as tmp:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                out = subprocess.run([*CLI, "run", "-o", str(Path(tmp) / "out")], cwd=root,
                                     capture_output=True,
                                     text=True, check=True,
                                     env={**os.environ, "PYTHONPATH": str(root)})
                walls[root].append(time.perf_counter() - t0)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[root].append(after.ru_utime - before.ru_utime + after.ru_stime -
                                  before.ru_stime)
                line = next((x for x in out.stdout.splitlines() if x.startswith("wall ")), "")
                print(f"{root} run {i + 1}: {walls[root][-1]:.1f} s wall, "
                      f"{cpus[root][-1]:.1f} CPU-s; {line}")
    for root in roots:
        print(f"{root}: whole process, median of {runs}: "
              f"{statistics.median(walls[root]):.1f} s wall, "
              f"{statistics.median(cpus[root]):.1f} CPU-s")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


def _matches(key: tuple[str, int, str], suffix: str) -> bool:
    return key[0].replace(os.sep, "/").endswith(suffix) or suffix in key[0].replace(os.sep, "/")


def profile(top: int) -> None:
    """Profile the default job serially in this process and print the summaries."""
    t0 = time.perf_counter()
    profiler = cProfile.Profile()
    profiler.enable()
    from bench.cli.main import main

    imported = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        code = main(["run", "-o", str(Path(tmp) / "out"), "--executor", "serial"])
    profiler.disable()
    total = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"the default job exited {code}")
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    print(f"\nserial profile: {total:.1f} s under cProfile (it slows Python calls), of which "
          f"importing the CLI {imported:.1f} s")
    for phase, (suffix, name) in PHASES.items():
        cum = sum(v[3] for k, v in raw.items() if k[2] == name and _matches(k, suffix))
        print(f"  {phase:12s} {cum:6.1f} s ({100 * cum / total:4.1f}%)")
    own: dict[str, float] = dict.fromkeys(PLACES, 0.0)
    for key, value in raw.items():
        path = key[0].replace(os.sep, "/")
        for place, part in PLACES.items():
            if part in path:
                own[place] += value[2]
                break
    print("  own time by place (all phases):")
    for place, seconds in sorted(own.items(), key=lambda kv: -kv[1]):
        print(f"    {place:42s} {seconds:6.1f} s")
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(top)
    print("\n".join(buf.getvalue().splitlines()[6:]))


def main() -> None:
    """Measure the default job as a whole process, then profile it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--root", type=Path, action="append", default=[],
                        help="another checkout to time as well (repeatable)")
    args = parser.parse_args()
    if args.runs > 0:
        whole_process(args.runs, [*args.root, ROOT])
    if not args.no_profile:
        profile(args.top)


if __name__ == "__main__":
    main()
