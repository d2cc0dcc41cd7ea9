"""`samplerbench ci`: run the CI suite on the shipped table, then gate it on a baseline.

The run goes to a fresh folder (a temporary one unless `--output` names a new one), so a
verdict never rests on results left by an earlier version of the code. The suite's seeds are
the baseline's, and the gate pairs them: the run (sampler salt 0) is compared seed by seed
with the committed baseline (`benchmarks/make_ci_baseline.py`): with its salt-0 run when the
code kept the sampler's streams (unchanged code reproduces it), else with the mean of its
runs at salts 0..7 (docs/ci.md measures the false alarms and power of this design).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from importlib import resources
from pathlib import Path

from bench.cli.gate_options import add_gate_options, gate_settings
from bench.cli.options import add_output
from bench.core.errors import BenchError
from bench.execution.run_suite import RunOptions, run_suite
from bench.objectives.table import load_curves, shipped_table_path
from bench.spec.suite import Suite, load_suite
from reports.gate.baseline import Baseline, check_comparable, identity, read_baseline
from reports.gate.compare import GateSettings
from reports.gate.verdict import gate

HELP = "run the CI suite on the shipped table and check it against the committed baseline"
DEFAULT_SUITE = "ci"
BASELINE_FILE = "ci-baseline.json"


def default_baseline() -> Path:
    """The committed baseline of the shipped CI suite."""
    return Path(str(resources.files("bench") / "data" / BASELINE_FILE))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ci`."""
    parser.add_argument("--suite", default=DEFAULT_SUITE,
                        help=f"replay suite file or shipped name (default: {DEFAULT_SUITE})")
    parser.add_argument("--baseline", type=Path, default=None, metavar="FILE",
                        help=f"baseline file (default: the committed bench/data/{BASELINE_FILE})")
    add_output(parser, "keep the run's results in DIR, which must not exist or be empty "
                       "(default: a temporary folder, removed afterwards)")
    parser.add_argument("--workers", type=int, default=None,
                        help="run the cells on this many worker processes (default: the "
                             "suite's executor; results do not depend on it)")
    add_gate_options(parser)


def table_of(suite: Suite) -> Path:
    """The table a replay suite replays, or BenchError when it is live or the file is absent."""
    if suite.objective.kind != "mnist-table":
        raise BenchError(f"suite {suite.name!r} trains live; `ci` runs replay suites "
                         "(objective kind \"mnist-table\")")
    path = Path(suite.objective.table) if suite.objective.table else shipped_table_path()
    if not path.is_file():
        raise BenchError(f"the CI suite replays table {path}, which does not exist; build it "
                         f"with `samplerbench tabulate -o {path}` or set `table` in the suite")
    return path


def run(args: argparse.Namespace) -> int:
    """Check inputs, run the suite in a fresh folder, gate it."""
    settings = gate_settings(args)
    if args.workers is not None and args.workers < 1:
        raise BenchError(f"--workers must be at least 1, got {args.workers}")
    suite = load_suite(args.suite)
    table = table_of(suite)
    baseline_path = args.baseline or default_baseline()
    if not baseline_path.is_file():
        raise BenchError(f"baseline {baseline_path} does not exist; create it from a run of "
                         f"the suite: `samplerbench run {args.suite} -o RESULTS` then "
                         f"`samplerbench baseline RESULTS -o {baseline_path}`")
    baseline = read_baseline(baseline_path)
    curves = load_curves(table)
    check_comparable(baseline.identity(), identity(suite.to_dict(), {"checksum": curves.checksum}))
    if args.output is not None:
        if args.output.exists() and (not args.output.is_dir() or any(args.output.iterdir())):
            raise BenchError(f"{args.output} is not empty; `ci` needs a fresh results folder "
                             "(remove it or choose another)")
        return _run_and_gate(suite, args, baseline, args.output, settings)
    with tempfile.TemporaryDirectory(prefix="samplerbench-ci-") as tmp:
        return _run_and_gate(suite, args, baseline, Path(tmp) / "results", settings)


def _run_and_gate(suite: Suite, args: argparse.Namespace, baseline: Baseline, out: Path,
                  settings: GateSettings) -> int:
    parallel = args.workers is not None and args.workers > 1
    summary = run_suite(suite, RunOptions(output=out, workers=args.workers,
                                          executor="processes" if parallel else None))
    if summary.failed:
        for cell in summary.failed:
            print(f"FAILED {cell.cell}: {cell.error}", file=sys.stderr)
        print(f"samplerbench ci: {len(summary.failed)} cells crashed: that fails the gate",
              file=sys.stderr)
        return 1
    print(f"samplerbench ci: ran {sum(c.ran for c in summary.cells)} trials in "
          f"{summary.seconds:.1f} s", file=sys.stderr)
    return gate(baseline, summary.results, settings, args.summary)
