"""Regenerate the committed CI baseline: run the CI suite on the shipped table, record it.

Runs `samplerbench run ci` into a temporary folder, then `samplerbench baseline` into
bench/data/ci-baseline.json, then `samplerbench ci` once to prove the new baseline passes.
Run it after the shipped table (bench/data/mnist-cpu.parquet) or suites/ci.toml changes, and
commit the baseline with them.

    python benchmarks/make_ci_baseline.py [--suite ci] [--output bench/data/ci-baseline.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.cli.commands.ci import default_baseline
from bench.cli.main import main as samplerbench


def main(argv: list[str] | None = None) -> int:
    """Run, record, verify; return the first non-zero exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="ci", help="suite file or shipped name (default: ci)")
    parser.add_argument("--output", type=Path, default=default_baseline(),
                        help="baseline file (default: the committed bench/data/ci-baseline.json)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="samplerbench-baseline-") as tmp:
        results = Path(tmp) / "results"
        for command in (["run", args.suite, "-o", str(results), "--no-report"],
                        ["baseline", str(results), "-o", str(args.output)]):
            code = samplerbench(command)
            if code:
                return code
    return samplerbench(["ci", "--suite", args.suite, "--baseline", str(args.output)])


if __name__ == "__main__":
    sys.exit(main())
