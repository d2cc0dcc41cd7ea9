"""The `samplerbench` command line: one module per command under `bench.cli.commands`.

Each command module defines `HELP` (one line), `add_arguments(parser)` and
`run(args) -> int`. Errors the user can fix (`BenchError`) print one line on stderr and exit
with a non-zero status instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from bench.core.errors import BenchError
from bench.core.signals import SIGTERM_EXIT, Terminated, sigterm_as_interrupt

COMMANDS: tuple[str, ...] = (
    "run",
    "list",
    "export",
    "recover",
    "report",
    "tabulate",
    "baseline",
    "check",
    "compare",
    "ci",
    "train",
)


def _command_module(name: str) -> ModuleType:
    return importlib.import_module(f"bench.cli.commands.{name}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every available command, or with command `only` alone (each
    command module imports what it runs, torch for some: a replay run need not pay for it)."""
    parser = argparse.ArgumentParser(
        prog="samplerbench",
        description="Benchmark Optuna samplers and pruners on a live PyTorch MNIST objective.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        module = _command_module(name)
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(handler=module.run)
    return parser


class _ArgumentError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status (callable in-process by tests)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list:
        args_list = ["run"]  # the main job on its default suite
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress bar says it better
    parser = build_parser(args_list[0] if args_list[0] in COMMANDS else None)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exit_:  # argparse already printed its one-line usage error
        return int(exit_.code or 0)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        with sigterm_as_interrupt():
            return int(args.handler(args))
    except BenchError as err:
        one_line = " ".join(part.strip() for part in str(err).splitlines() if part.strip())
        print(f"samplerbench {args.command}: error: {one_line}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:
        how = " by SIGTERM" if isinstance(err, Terminated) else ""
        print(f"samplerbench {args.command}: interrupted{how}; re-run the same command to "
              "resume", file=sys.stderr)
        return SIGTERM_EXIT if isinstance(err, Terminated) else 130


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
