"""`samplerbench run [SUITE]`: run a suite (resuming), export its tables, write its report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli.options import add_data_root, add_output, add_target
from bench.core.errors import BenchError
from bench.execution.plan import machine_cells
from bench.execution.run_suite import RunOptions, RunSummary, apply_options, run_suite
from bench.spec.estimate import estimate_seconds
from bench.spec.suite import load_suite

HELP = "run a suite of cells (strategy x pruner x seed x device), resuming where it stopped"
DEFAULT_SUITE = "replay"
REPORT_MODULES = ("reports.writer",)  # imported while the cells run, for the report after them


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `run`."""
    parser.add_argument("suite", nargs="?", default=DEFAULT_SUITE,
                        help=f"suite file (TOML) or shipped suite name (default: {DEFAULT_SUITE})")
    add_output(parser, "results folder (default: results/<suite name>)")
    parser.add_argument("--storage", default=None,
                        help="Optuna storage URL (default: the suite's; journal file in the "
                             "results folder)")
    parser.add_argument("--executor", default=None, help="serial, processes or dask")
    parser.add_argument("--workers", type=int, default=None, help="worker processes")
    parser.add_argument("--scheduler", default=None,
                        help="dask scheduler address, e.g. tcp://host:8786 (default: a "
                             "LocalCluster)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the cells and a time estimate, run nothing")
    parser.add_argument("--no-report", action="store_true",
                        help="stop after exporting the tables")
    parser.add_argument("--cells", type=cell_slice, default=None, metavar="START:STOP",
                        help="run only the plan's cells START to STOP-1 (0-based, in "
                             "`--dry-run` order; `compare` interleaves two environments so); "
                             "the tables then hold the cells run so far")
    add_target(parser)
    add_data_root(parser)


def cell_slice(text: str) -> slice:
    """`START:STOP` (either may be empty) as a slice of the plan's cells."""
    start, sep, stop = text.partition(":")
    try:
        bounds = [int(v) if v.strip() else None for v in (start, stop)]
    except ValueError:
        bounds = []
    if not sep or len(bounds) != 2 or any(b is not None and b < 0 for b in bounds):
        raise argparse.ArgumentTypeError(f"expected START:STOP with whole numbers >= 0, "
                                         f"got {text!r}")
    return slice(bounds[0], bounds[1])


def _options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(args.output, args.storage, args.executor, args.workers, args.scheduler,
                      args.data_root, args.cells)


def run(args: argparse.Namespace) -> int:
    """Run the suite; exit 1 when any cell failed."""
    suite = apply_options(load_suite(args.suite), _options(args))
    if args.cells is not None and args.dry_run:
        raise BenchError("--cells runs part of a suite; --dry-run lists all of it, so give "
                         "one or the other")
    if args.dry_run:
        cells = machine_cells(suite)
        for c in cells:
            print(f"{c.name}\t{c.strategy.key}\t{c.pruner.key}\tseed {c.seed}\t{c.device}\t"
                  f"{c.trials} trials")
        total = len(cells) * suite.trials
        est = estimate_seconds(suite, total)
        print(f"{len(cells)} cells, {total} trials, about {est / 60:.1f} min with "
              f"{suite.executor} x{suite.workers} (not counting cells already done)")
        return 0
    summary = run_suite(suite, _options(args), prefetch=() if args.no_report else REPORT_MODULES)
    print_summary(summary)
    if not args.no_report:
        _report(summary.results, args.target)
    return 1 if summary.failed else 0


def _report(results: Path, target: float) -> None:
    from reports.writer import write_report  # loaded while the cells ran (REPORT_MODULES)

    path = write_report(results, results / "report", target=target)
    print(f"report: {path}")


def print_summary(summary: RunSummary) -> None:
    """One line per strategy x pruner, then the failures and where results are."""
    import pandas as pd

    from bench.results.schema import TRIALS_FILE

    trials = pd.read_parquet(summary.results / TRIALS_FILE)
    if not trials.empty:
        done = trials[trials["state"] == "COMPLETE"]
        best = done.groupby(["strategy", "pruner", "device", "seed"])["value"].max()
        table = best.groupby(["strategy", "pruner", "device"]).agg(["count", "median"])
        table.columns = ["seeds", "median final best"]
        pruned = trials.groupby(["strategy", "pruner", "device"])["state"].apply(
            lambda s: (s == "PRUNED").mean())
        table["pruned share"] = pruned
        print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    cell_s = sum(c.seconds for c in summary.cells)  # summed over workers
    real_objective = 0.0 if summary.time_simulated else summary.objective_s
    other = cell_s - real_objective - summary.sampler_s
    if summary.time_simulated:
        print(f"wall {summary.seconds:.1f}s; in cells {cell_s:.1f}s (sampler "
              f"{summary.sampler_s:.1f}s, harness and storage {other:.1f}s); simulated "
              f"objective time {summary.objective_s:.1f}s from the table")
    elif cell_s > 0:
        print(f"wall {summary.seconds:.1f}s; in cells {cell_s:.1f}s: objective "
              f"{summary.objective_s:.1f}s, sampler {summary.sampler_s:.1f}s, harness "
              f"{other:.1f}s ({100 * other / cell_s:.2f}%)")
    for cell in summary.failed:
        print(f"FAILED {cell.cell}: {cell.error}", file=sys.stderr)
    print(f"results: {summary.results}")
