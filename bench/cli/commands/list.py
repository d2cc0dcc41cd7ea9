"""`samplerbench list`: strategies, pruners, datasets, spaces and suites, a line of help each."""

from __future__ import annotations

import argparse

from bench.core.spaces import SPACE_HELP
from bench.spec.objective import DATASET_HELP
from bench.spec.suite import load_suite, shipped_suites
from strategies.registry import PRUNERS, SAMPLERS

HELP = "list the strategies, pruners, datasets, search spaces and shipped suites"
SECTIONS = ("strategies", "pruners", "datasets", "spaces", "suites")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `list`."""
    parser.add_argument("what", nargs="?", choices=SECTIONS, default=None,
                        help="one section only (default: all)")


def _suite_help() -> dict[str, str]:
    return {name: load_suite(str(path)).description for name, path in
            sorted(shipped_suites().items())}


def run(args: argparse.Namespace) -> int:
    """Print each section as `name  help`."""
    sections = {
        "strategies": {k: v.help for k, v in SAMPLERS.items()},
        "pruners": {k: v.help for k, v in PRUNERS.items()},
        "datasets": DATASET_HELP,
        "spaces": SPACE_HELP,
    }
    for title in SECTIONS:
        if args.what not in (None, title):
            continue
        entries = _suite_help() if title == "suites" else sections[title]
        print(f"{title}:")
        width = max(len(k) for k in entries)
        for name, text in entries.items():
            print(f"  {name:<{width}}  {text}")
    return 0
