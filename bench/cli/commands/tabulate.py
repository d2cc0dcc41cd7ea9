"""`samplerbench tabulate`: train the live objective over a grid, for the replay objective."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from bench.cli.options import add_data_root, add_dataset, add_device, add_output
from bench.core.errors import BenchError
from bench.objectives.tabulate import TabulationGrid, tabulate

HELP = "train every grid point (learning rate x hidden size x replicate) and write a table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `tabulate`."""
    d = TabulationGrid()
    add_output(parser, "table file to write (default: mnist-table.parquet); an interrupted "
                       "run resumes from <file>.partial.jsonl", Path("mnist-table.parquet"),
               "FILE")
    add_dataset(parser)
    add_device(parser)
    add_data_root(parser)
    parser.add_argument("--learning-rates", type=int, default=d.n_learning_rates,
                        help=f"log-spaced learning rates over [1e-5, 1e-1] "
                             f"(default: {d.n_learning_rates})")
    parser.add_argument("--hidden-sizes", type=int, nargs="+", default=list(d.hidden_sizes))
    parser.add_argument("--replicates", type=int, default=d.replicates)
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--reports-per-epoch", type=int, default=d.reports_per_epoch)
    parser.add_argument("--one-at-a-time", action="store_true",
                        help="train one network at a time instead of batched (same results)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); 1 keeps timings "
                             "steady on a busy machine")


def run(args: argparse.Namespace) -> int:
    """Tabulate with a progress bar and print the table's path."""
    if args.threads is not None:
        if args.threads < 1:
            raise BenchError(f"--threads must be at least 1, got {args.threads}")
        import torch  # here: every other command's start-up would pay for it

        torch.set_num_threads(args.threads)
    grid = TabulationGrid(n_learning_rates=args.learning_rates,
                          hidden_sizes=tuple(args.hidden_sizes), replicates=args.replicates,
                          epochs=args.epochs, reports_per_epoch=args.reports_per_epoch,
                          dataset=args.dataset)
    bar = tqdm(unit="run", file=sys.stderr, disable=None)

    def on_run(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        path = tabulate(grid, args.output, args.device, args.data_root, on_run,
                        batched=not args.one_at_a_time)
    finally:
        bar.close()
    print(path)
    return 0
