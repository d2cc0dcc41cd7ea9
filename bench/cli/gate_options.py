"""The gate's options, shared by `check`, `ci` and `compare`."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.core.errors import BenchError
from reports.gate.compare import DEFAULT_ALPHA, DEFAULT_TOLERANCES, GateSettings


def add_gate_options(parser: argparse.ArgumentParser) -> None:
    """Options of the gate shared by `check` and `ci`: alpha, tolerances, summary file."""
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help="family-wise significance level, Holm across every test "
                             f"(default: {DEFAULT_ALPHA})")
    parser.add_argument("--tolerance-true-final", type=float,
                        default=DEFAULT_TOLERANCES["true_final"], metavar="POINTS",
                        help="flag the chosen configuration's true accuracy only when worse on "
                             "average by more than this many accuracy points (default: "
                             f"{DEFAULT_TOLERANCES['true_final']})")
    parser.add_argument("--tolerance-true-area", type=float,
                        default=DEFAULT_TOLERANCES["true_area"], metavar="POINTS",
                        help="flag the area under the chosen configuration's true accuracy "
                             "only when worse on average by more than this (default: "
                             f"{DEFAULT_TOLERANCES['true_area']})")
    parser.add_argument("--summary", type=Path, default=None, metavar="FILE",
                        help="append the verdict as Markdown to FILE, e.g. "
                             "$GITHUB_STEP_SUMMARY")


def gate_settings(args: argparse.Namespace) -> GateSettings:
    """The gate settings of the command line, validated."""
    if not 0 < args.alpha < 1:
        raise BenchError(f"--alpha must lie in (0, 1), got {args.alpha}")
    for name in ("tolerance_true_final", "tolerance_true_area"):
        if getattr(args, name) < 0:
            raise BenchError(f"--{name.replace('_', '-')} must be >= 0, got "
                             f"{getattr(args, name)}")
    return GateSettings(args.alpha, {"true_final": args.tolerance_true_final,
                                     "true_area": args.tolerance_true_area})
