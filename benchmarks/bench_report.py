"""Time `write_report` on 100 seeds x 6 strategy/pruner pairs x 50 trials (30,000 trials).

Run: `python benchmarks/bench_report.py [--keep DIR]`. Prints the seconds `write_report`
took (the synthesis of the results folder, by tests/helpers/results.py, is not timed). The
target is under 30 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests.helpers` imports from the checkout's root
    sys.path.insert(0, str(ROOT))
PAIRS = [(s, p) for s in ("random", "tpe", "cmaes") for p in ("none", "median")]
EFFECT = {("tpe", "none"): 0.01, ("tpe", "median"): 0.01, ("cmaes", "none"): 0.005}


def main() -> None:
    """Synthesise the results folder, time the report, print the seconds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, default=None,
                        help="write results and report here instead of a temporary folder")
    args = parser.parse_args()
    from reports.writer import write_report
    from tests.helpers.results import make_results

    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep if args.keep is not None else Path(tmp)
        results = make_results(base / "results", pairs=PAIRS, seeds=100, trials=50,
                               effect=EFFECT, rng_seed=0)
        start = time.perf_counter()
        write_report(results, base / "report", target=0.97)
        seconds = time.perf_counter() - start
    print(f"write_report: 100 seeds x {len(PAIRS)} pairs x 50 trials: {seconds:.2f} s")


if __name__ == "__main__":
    main()
