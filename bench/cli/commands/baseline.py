"""`samplerbench baseline RESULTS [RESULTS ...] -o FILE`: record per-seed metrics for the gate,
averaged over one or more runs of a suite that differ only in `sampler_salt`."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.options import add_output, add_target
from bench.core.errors import BenchError
from bench.core.files import now_iso
from bench.results.schema import TRIALS_FILE, read_run_info, read_table
from reports.gate.baseline import make_baseline, write_baseline
from reports.gate.compare import seed_metrics

HELP = ("write a baseline file (per-seed true accuracy of the chosen configuration and its "
        "area, averaged over runs) from one or more runs of a suite")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `baseline`."""
    parser.add_argument("results", type=Path, nargs="+", metavar="RESULTS",
                        help="results folders written by `samplerbench run`: one suite at the "
                             "same seeds, each run with its own sampler_salt")
    add_output(parser, "baseline file to write (default: baseline.json)",
               Path("baseline.json"), "FILE")
    add_target(parser)


def run(args: argparse.Namespace) -> int:
    """Write the baseline and say what it holds."""
    if not 0 < args.target <= 1:
        raise BenchError(f"--target must lie in (0, 1], got {args.target}")
    runs = []
    for results in args.results:
        info = read_run_info(results)
        seeds = seed_metrics(read_table(results, TRIALS_FILE), target=args.target)
        if seeds.empty:
            raise BenchError(f"{results} holds no trials; run its suite first")
        runs.append((info, seeds, str(results)))
    doc = make_baseline(runs, target=args.target, created=now_iso())
    info = runs[0][0]
    write_baseline(args.output, doc)
    n_seeds = [len(p["seeds"]) for p in doc["pairs"]]
    print(f"baseline: {args.output}: {len(n_seeds)} strategy x pruner pairs, "
          f"{min(n_seeds)}-{max(n_seeds)} seeds each, mean of {len(runs)} run(s) (sampler "
          f"salts {[r['sampler_salt'] for r in doc['runs']]}), suite "
          f"{info['suite'].get('name')!r} (hash {info['suite'].get('hash')})")
    return 0
