"""Harness overhead: how much of a suite's wall time is neither training nor Optuna.

Runs a suite (default `quick`, live MNIST) into an empty temporary folder in this process and
prints the cells' wall time split into objective time (training and evaluation), sampler time
(ask, suggest and the pruner's should_prune) and the rest: the harness (storage writes, study
bookkeeping, progress). End-to-end time, with the data check before the cells and the export
after them, is printed too.

    python benchmarks/bench_overhead.py [SUITE] [--output DIR] [--max-overhead PCT]

Run it on a quiet machine: other processes inflate every share. The exit status is 1 when
`--max-overhead` is given and the harness share is above it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import optuna

from bench.core.errors import BenchError
from bench.execution.run_suite import RunOptions, RunSummary, run_suite
from bench.spec.suite import load_suite


def harness_split(summary: RunSummary) -> tuple[float, float, float]:
    """(objective seconds, harness seconds, harness % of the cells' wall time).

    A replay suite's objective time is simulated, so none of its wall time is objective time.
    """
    wall = sum(c.seconds for c in summary.cells) or summary.seconds  # summed over workers
    objective = 0.0 if summary.time_simulated else summary.objective_s
    harness = wall - objective - summary.sampler_s
    return objective, harness, 100 * harness / wall if wall > 0 else float("nan")


def overhead_lines(summary: RunSummary, total_s: float, trials: int) -> list[str]:
    """The report: one line per figure.

    Args:
        summary: what `run_suite` returned.
        total_s: end-to-end seconds of `run_suite`.
        trials: trials run.
    """
    wall = sum(c.seconds for c in summary.cells) or summary.seconds  # summed over workers
    objective, harness, share = harness_split(summary)
    per_trial = 1000 * harness / trials if trials else float("nan")
    return [
        f"trials           {trials}",
        f"wall (cells)     {wall:9.2f} s",
        f"objective        {objective:9.2f} s" + (
            f"  (simulated {summary.objective_s:.2f} s, replay)" if summary.time_simulated
            else ""),
        f"sampler          {summary.sampler_s:9.2f} s",
        f"harness          {harness:9.2f} s  ({share:.2f}% of wall, {per_trial:.1f} ms/trial)",
        f"end to end       {total_s:9.2f} s  (with the data check and the export)",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the suite once and print the split; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", default="quick",
                        help="suite file or shipped suite name (default: quick)")
    parser.add_argument("--output", type=Path, default=None,
                        help="results folder to keep (must be empty; default: a temporary one)")
    parser.add_argument("--data-root", type=Path, default=None, help="dataset folder")
    parser.add_argument("--max-overhead", type=float, default=None, metavar="PCT",
                        help="exit 1 when the harness share of the wall time is above PCT")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # as the CLI: the progress lines say it
    try:
        suite = load_suite(args.suite)
        if args.output is not None and args.output.exists() and any(args.output.iterdir()):
            raise BenchError(f"{args.output} is not empty; overhead is measured on a fresh run")
        with tempfile.TemporaryDirectory(prefix="samplerbench-overhead-") as tmp:
            out = args.output or Path(tmp) / suite.name
            start = time.perf_counter()
            summary = run_suite(suite, RunOptions(output=out, data_root=args.data_root))
            total = time.perf_counter() - start
    except BenchError as err:
        print(f"bench_overhead: error: {err}", file=sys.stderr)
        return 2
    if summary.failed:
        for cell in summary.failed:
            print(f"FAILED {cell.cell}: {cell.error}", file=sys.stderr)
        return 2
    trials = sum(c.ran for c in summary.cells)
    print(f"suite {suite.name!r}: {len(summary.cells)} cells, executor {suite.executor} "
          f"x{suite.workers}")
    print("\n".join(overhead_lines(summary, total, trials)))
    share = harness_split(summary)[2]
    if args.max_overhead is not None and share > args.max_overhead:
        print(f"harness share {share:.2f}% is above --max-overhead {args.max_overhead}%",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
