"""`samplerbench report`: tables, figures, statistics and a Markdown/HTML report of a run."""

from __future__ import annotations

import argparse
import logging
import sys

from bench.cli.options import add_output, add_results, add_target
from reports.text import LOG
from reports.writer import write_report

HELP = "compare strategies and pruners of a results folder: tables, figures, tests, report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `report`."""
    add_results(parser)
    add_output(parser, "output folder (default: RESULTS/report)")
    add_target(parser)
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="significance level of the pairwise tests (default: 0.05)")


def run(args: argparse.Namespace) -> int:
    """Write the report, print where it is, and repeat its warnings on stderr."""
    out = args.output if args.output is not None else args.results / "report"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("samplerbench report: warning: %(message)s"))
    LOG.addHandler(handler)
    try:
        path = write_report(args.results, out, target=args.target, alpha=args.alpha)
    finally:
        LOG.removeHandler(handler)
    print(f"report: {path}")
    print(f"report: {path.with_suffix('.html')}")
    return 0
