"""`samplerbench baseline RESULTS -o FILE`: record a run's per-seed metrics for the gate."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.options import add_output, add_results, add_target
from bench.core.errors import BenchError
from bench.core.files import now_iso
from bench.results.schema import TRIALS_FILE, read_run_info, read_table
from reports.gate.baseline import make_baseline, write_baseline
from reports.gate.compare import seed_metrics

HELP = "write a baseline file (per-seed final best, curve area, time-to-target) from a run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `baseline`."""
    add_results(parser)
    add_output(parser, "baseline file to write (default: baseline.json)",
               Path("baseline.json"), "FILE")
    add_target(parser)


def run(args: argparse.Namespace) -> int:
    """Write the baseline and say what it holds."""
    if not 0 < args.target <= 1:
        raise BenchError(f"--target must lie in (0, 1], got {args.target}")
    info = read_run_info(args.results)
    seeds = seed_metrics(read_table(args.results, TRIALS_FILE), target=args.target)
    if seeds.empty:
        raise BenchError(f"{args.results} holds no trials; run its suite first")
    doc = make_baseline(info, seeds, target=args.target, source=str(args.results),
                        created=now_iso())
    write_baseline(args.output, doc)
    n_seeds = seeds.groupby(["strategy", "pruner", "device"]).size()
    print(f"baseline: {args.output}: {len(n_seeds)} strategy x pruner pairs, "
          f"{n_seeds.min()}-{n_seeds.max()} seeds each, suite {info['suite'].get('name')!r} "
          f"(hash {info['suite'].get('hash')})")
    return 0
