"""Rebuild the golden results folder `tests/reports/golden/` (deterministic).

Run: `python tests/reports/make_golden.py`. Three strategies x two pruners x 5 seeds x 12
trials on one device, TPE planted 2 points and CMA-ES 1 point above random search; trials
carry their planted noise-free level as `true_accuracy` and its best as `true_optimum`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:  # `tests.helpers` imports from the checkout's root
    sys.path.insert(0, str(ROOT))
PAIRS = [(s, p) for s in ("random", "tpe", "cmaes") for p in ("none", "median")]
EFFECT = {**{("tpe", p): 0.02 for p in ("none", "median")},
          **{("cmaes", p): 0.01 for p in ("none", "median")}}


def main() -> None:
    """Write the golden folder with the tests' synthesiser (tests/helpers/results.py)."""
    from tests.helpers.results import make_results

    golden = HERE / "golden"
    shutil.rmtree(golden, ignore_errors=True)
    make_results(golden, pairs=PAIRS, seeds=5, trials=12, effect=EFFECT, rng_seed=2026)
    print(f"wrote {golden}")


if __name__ == "__main__":
    main()
