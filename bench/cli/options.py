"""Options shared by several commands, defined once."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.core.errors import BenchError
from reports.gate.compare import DEFAULT_ALPHA, DEFAULT_TOLERANCES, GateSettings
from reports.summaries import DEFAULT_TARGET


def add_data_root(parser: argparse.ArgumentParser) -> None:
    """`--data-root`: where dataset files live (default $SAMPLERBENCH_DATA or the user cache)."""
    parser.add_argument(
        "--data-root", type=Path, default=None,
        help="folder with the dataset files in torchvision's layout "
             "(default: $SAMPLERBENCH_DATA, else ~/.cache/samplerbench/data)",
    )


def add_device(parser: argparse.ArgumentParser, default: str = "cpu") -> None:
    """`--device`: cpu, cuda, mps or auto."""
    parser.add_argument("--device", default=default,
                        help=f"cpu, cuda, mps or auto (default: {default})")


def add_dataset(parser: argparse.ArgumentParser) -> None:
    """`--dataset`: mnist, fashion-mnist or digits."""
    parser.add_argument("--dataset", default="mnist",
                        help="mnist (default), fashion-mnist or digits")


def add_results(parser: argparse.ArgumentParser) -> None:
    """The positional RESULTS folder that `run` wrote."""
    parser.add_argument("results", type=Path, metavar="RESULTS",
                        help="results folder written by `samplerbench run`")


def add_output(parser: argparse.ArgumentParser, help: str, default: Path | None = None,
               metavar: str = "DIR") -> None:
    """`-o/--output`: where a command writes (the same letter and name in every command)."""
    parser.add_argument("-o", "--output", type=Path, default=default, metavar=metavar,
                        help=help)


def add_target(parser: argparse.ArgumentParser) -> None:
    """`--target`: the validation accuracy that counts as reaching the target."""
    parser.add_argument("--target", type=float, default=DEFAULT_TARGET,
                        help="validation accuracy that counts as reaching the target, in "
                             f"(0, 1] (default: {DEFAULT_TARGET})")


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
