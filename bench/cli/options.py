"""Options shared by several commands, defined once (the gate's: `bench.cli.gate_options`).

Nothing here imports the report layer's statistics, so every command starts without them."""

from __future__ import annotations

import argparse
from pathlib import Path

from reports.defaults import DEFAULT_TARGET


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
