"""`samplerbench check RESULTS --baseline FILE`: the regression gate.

Exit status: 0 when nothing regressed, 1 when something did, 2 when the two runs cannot be
compared (another suite, search space or table, another baseline schema, or a strategy x
pruner of the baseline missing from the results).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.gate_options import add_gate_options, gate_settings
from bench.cli.options import add_results
from reports.gate.baseline import read_baseline
from reports.gate.verdict import gate

HELP = "test a results folder against a baseline: exit 0 pass, 1 regression, 2 incomparable"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `check`."""
    add_results(parser)
    parser.add_argument("--baseline", type=Path, required=True, metavar="FILE",
                        help="baseline file written by `samplerbench baseline`")
    add_gate_options(parser)


def run(args: argparse.Namespace) -> int:
    """Run the gate on a results folder."""
    return gate(read_baseline(args.baseline), args.results, gate_settings(args), args.summary)
