"""`samplerbench export RESULTS`: write the tidy trials and steps tables from the storage."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench.cli.options import add_results
from bench.core.errors import BenchError
from bench.results.export import build_tables, write_tables
from bench.results.schema import RUN_FILE, TRIALS_FILE, read_run_info
from bench.storage.backends import open_storage
from bench.storage.urls import STORAGE_ENV, is_masked, resolve_storage_url

HELP = "write trials.parquet and steps.parquet (and CSV with --csv) from a results folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `export`."""
    add_results(parser)
    parser.add_argument("--csv", action="store_true", help="also write CSV files")
    parser.add_argument("--force", action="store_true",
                        help="write the tables even when they hold fewer trials than before")
    parser.add_argument("--storage", default=None,
                        help="storage URL, when it is not the one in run.json; run.json keeps "
                             "no password, so a password-protected database needs this or "
                             f"${STORAGE_ENV}")


def _rows(path: Path) -> int:
    """Rows of an existing table (0 when there is none or it cannot be read)."""
    try:
        return pq.ParquetFile(path).metadata.num_rows if path.is_file() else 0
    except (OSError, pa.ArrowInvalid):
        return 0


def run(args: argparse.Namespace) -> int:
    """Export and print the paths written."""
    info = read_run_info(args.results)
    url = args.storage or os.environ.get(STORAGE_ENV) or resolve_storage_url(
        info["suite"]["storage"], args.results)
    if is_masked(url):
        raise BenchError(f"{args.results / RUN_FILE} keeps the storage URL without its password "
                         f"({url}); pass --storage URL or set ${STORAGE_ENV}")
    if url.startswith("journal:") and not Path(url.removeprefix("journal:")).is_file():
        raise BenchError(f"the journal {url.removeprefix('journal:')} does not exist, so there "
                         "is nothing to export; pass --storage URL if the run stored its "
                         "trials elsewhere")
    trials, steps = build_tables(open_storage(url), suite=info["suite"]["name"])
    before = _rows(args.results / TRIALS_FILE)
    if len(trials) < before and not args.force:
        raise BenchError(f"the storage holds {len(trials)} trials of suite "
                         f"{info['suite']['name']!r}, but {args.results / TRIALS_FILE} has "
                         f"{before}; nothing was rewritten (pass --force to write the smaller "
                         "table, or --storage for the storage the run used)")
    for path in write_tables(trials, steps, args.results, csv=args.csv):
        print(path)
    print(f"{len(trials)} trials, {len(steps)} steps")
    return 0
