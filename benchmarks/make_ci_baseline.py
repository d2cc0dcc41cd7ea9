"""Regenerate the committed CI baseline: run the CI suite at sampler salts 0..K-1, record them.

`samplerbench ci` runs the suite at sampler salt 0 and compares it seed by seed with this
baseline: with the salt-0 run when the code under test kept the sampler's streams (the paired
design: unchanged code reproduces it), with the per-seed mean of all K runs when the streams
differ from the first trial on (the averaged design, so that one run's luck does not set the
false-alarm rate); `reports.gate.compare`, docs/ci.md. Then `samplerbench ci` runs once to
prove that the new baseline passes unchanged code. Run it after the shipped table
(bench/data/mnist-cpu.parquet), suites/ci.toml or the metrics change, and commit the
baseline with them.

    python benchmarks/make_ci_baseline.py [--suite ci] [-k 8] [--workers 2]
        [--output bench/data/ci-baseline.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from bench.cli.commands.ci import default_baseline
from bench.cli.main import main as samplerbench
from bench.execution.run_suite import RunOptions, run_suite
from bench.spec.suite import load_suite

DEFAULT_RUNS = 8


def main(argv: list[str] | None = None) -> int:
    """Run K salted runs, record their mean, verify; return the first non-zero status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="ci", help="suite file or shipped name (default: ci)")
    parser.add_argument("-k", type=int, default=DEFAULT_RUNS,
                        help=f"runs at salts 0..K-1 (default: {DEFAULT_RUNS}); salt 0 is the "
                             "paired one")
    parser.add_argument("--workers", type=int, default=1, help="processes per run")
    parser.add_argument("--output", type=Path, default=default_baseline(),
                        help="baseline file (default: the committed bench/data/ci-baseline.json)")
    args = parser.parse_args(argv)
    suite = load_suite(args.suite)
    with tempfile.TemporaryDirectory(prefix="samplerbench-baseline-") as tmp:
        folders = []
        salts = list(range(args.k))
        for i, salt in enumerate(salts, start=1):
            out = Path(tmp) / f"salt{salt}"
            print(f"run {i}/{len(salts)}: sampler_salt {salt}", file=sys.stderr, flush=True)
            summary = run_suite(dataclasses.replace(suite, sampler_salt=salt),
                                RunOptions(output=out, workers=args.workers,
                                           executor="processes" if args.workers > 1 else None))
            if summary.failed:
                return 1
            folders.append(str(out))
        code = samplerbench(["baseline", *folders, "-o", str(args.output)])
        if code:
            return code
    return samplerbench(["ci", "--suite", args.suite, "--baseline", str(args.output)])


if __name__ == "__main__":
    sys.exit(main())
