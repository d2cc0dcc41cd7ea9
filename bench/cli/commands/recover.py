"""`samplerbench recover RESULTS|JOURNAL`: cut a damaged journal file back to the whole records
before its first damage, keeping the damaged file beside it."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.storage.journal_recovery import describe, journal_path, recover_journal

HELP = ("keep the whole records of a damaged journal file before its first damage (the file "
        "as it was is kept as journal.log.damaged); stop runs writing to it first")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `recover`."""
    parser.add_argument("target", type=Path, metavar="RESULTS|JOURNAL",
                        help="results folder holding journal.log, or the journal file")


def run(args: argparse.Namespace) -> int:
    """Recover and say what was kept and dropped."""
    for line in describe(recover_journal(journal_path(args.target))):
        print(line)
    return 0
