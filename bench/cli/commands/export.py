"""`samplerbench export RESULTS`: write the tidy trials and steps tables from the storage."""

from __future__ import annotations

import argparse
import os

from bench.cli.options import add_results
from bench.core.errors import BenchError
from bench.results.export import build_tables, write_tables
from bench.results.schema import RUN_FILE, read_run_info
from bench.storage.backends import open_storage
from bench.storage.urls import STORAGE_ENV, is_masked, resolve_storage_url

HELP = "write trials.parquet and steps.parquet (and CSV with --csv) from a results folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `export`."""
    add_results(parser)
    parser.add_argument("--csv", action="store_true", help="also write CSV files")
    parser.add_argument("--storage", default=None,
                        help="storage URL, when it is not the one in run.json; run.json keeps "
                             "no password, so a password-protected database needs this or "
                             f"${STORAGE_ENV}")


def run(args: argparse.Namespace) -> int:
    """Export and print the paths written."""
    info = read_run_info(args.results)
    url = args.storage or os.environ.get(STORAGE_ENV) or resolve_storage_url(
        info["suite"]["storage"], args.results)
    if is_masked(url):
        raise BenchError(f"{args.results / RUN_FILE} keeps the storage URL without its password "
                         f"({url}); pass --storage URL or set ${STORAGE_ENV}")
    trials, steps = build_tables(open_storage(url), suite=info["suite"]["name"])
    for path in write_tables(trials, steps, args.results, csv=args.csv):
        print(path)
    print(f"{len(trials)} trials, {len(steps)} steps")
    return 0
